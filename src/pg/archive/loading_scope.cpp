#include "pg/archive/loading_scope.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/search_path.hpp"

#include <exception>

namespace tb::pg {

LoadingScope::LoadingScope(Oid relid) : owner_(relid), exceptions_at_entry_(std::uncaught_exceptions()) {
	guc_level_ = pg_eval([] {
		int level = NewGUCNestLevel();
		// PGC_SUSET: the setting is ours, for our own statements; the caller never holds it.
		set_config_option("session_replication_role", "replica", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
		                  false);
		return level;
	});
}

LoadingScope::~LoadingScope() {
	// Ended before owner_ (nest levels end innermost first); on error the abort ends both.
	end_guc_level(guc_level_, exceptions_at_entry_);
}

} // namespace tb::pg
