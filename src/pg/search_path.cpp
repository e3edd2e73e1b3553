#include "pg/search_path.hpp"

#include "pg/guard.hpp"

#include <cstring>
#include <exception>

extern "C" {
#include "catalog/namespace.h"
}

namespace tb::pg {

namespace {
std::string saved_caller_path;
}

PinnedSearchPath::PinnedSearchPath() : exceptions_at_entry_(std::uncaught_exceptions()) {
	// A nested call (our function called from our function) finds the path already pinned and
	// keeps the outer caller's.
	const char *current = namespace_search_path;
	if (current && std::strcmp(current, kPinnedSearchPath) != 0)
		saved_caller_path = current;
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

const std::string &caller_search_path() { return saved_caller_path; }

} // namespace tb::pg
