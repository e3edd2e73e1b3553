#include "pg/search_path.hpp"

#include "pg/guard.hpp"

#include <exception>

namespace tb::pg {

PinnedSearchPath::PinnedSearchPath() : exceptions_at_entry_(std::uncaught_exceptions()) {
	guc_level_ = pg_eval([] {
		int level = NewGUCNestLevel();
		set_config_option("search_path", kPinnedSearchPath, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
		                  false);
		return level;
	});
}

PinnedSearchPath::~PinnedSearchPath() {
	// Unwinding from an error: the abort that follows restores the caller's settings; after a
	// caught PostgreSQL error nothing else may run before it.
	if (std::uncaught_exceptions() != exceptions_at_entry_)
		return;
	try {
		pg_call([level = guc_level_] { AtEOXact_GUC(true, level); });
	} catch (...) {
		// Only reachable when PostgreSQL is already failing; the abort restores the settings.
	}
}

void pin_worker_search_path() {
	SetConfigOption("search_path", kPinnedSearchPath, PGC_SUSET, PGC_S_OVERRIDE);
}

} // namespace tb::pg
