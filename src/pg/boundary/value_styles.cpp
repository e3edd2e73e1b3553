#include "pg/boundary/value_styles.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/search_path.hpp"

#include <exception>

namespace tb::pg {

PinnedValueStyles::PinnedValueStyles()
    : exceptions_at_entry_(std::uncaught_exceptions()), guc_level_(pg_eval([] {
	      int level = NewGUCNestLevel();
	      static const char *const kStyles[][2] = {{"DateStyle", "ISO, MDY"},
	                                               {"IntervalStyle", "postgres"},
	                                               {"extra_float_digits", "1"},
	                                               {"bytea_output", "hex"}};
	      for (const auto &style : kStyles)
		      set_config_option(style[0], style[1], PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	      return level;
      })) {}

PinnedValueStyles::~PinnedValueStyles() {
	end_guc_level(guc_level_, exceptions_at_entry_);
}

} // namespace tb::pg
