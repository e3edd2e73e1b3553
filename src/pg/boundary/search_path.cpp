#include "pg/boundary/search_path.hpp"

#include "pg/boundary/guard.hpp"

#include <exception>

namespace tb::pg {

int pin_search_path_in_new_level() {
	int level = NewGUCNestLevel();
	set_config_option("search_path", kPinnedSearchPath, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void end_guc_level(int level, int exceptions_at_entry) noexcept {
	if (std::uncaught_exceptions() != exceptions_at_entry)
		return;
	try {
		// false: what was SET inside the level is undone, as VACUUM and REFRESH MATERIALIZED VIEW
		// undo it. Code of another role (a trigger, a CHECK, a cast) runs inside our levels, and a
		// set_config() of its own must not outlive them into our statements or the caller's session.
		pg_call([level] { AtEOXact_GUC(false, level); });
	} catch (...) {
		// Only reachable when PostgreSQL is already failing; the abort restores the settings.
	}
}

PinnedSearchPath::PinnedSearchPath()
    : exceptions_at_entry_(std::uncaught_exceptions()),
      guc_level_(pg_eval([] { return pin_search_path_in_new_level(); })) {}

PinnedSearchPath::~PinnedSearchPath() {
	end_guc_level(guc_level_, exceptions_at_entry_);
}

void pin_worker_search_path() {
	SetConfigOption("search_path", kPinnedSearchPath, PGC_SUSET, PGC_S_OVERRIDE);
}

} // namespace tb::pg
