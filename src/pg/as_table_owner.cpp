#include "pg/as_table_owner.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "utils/syscache.h"
}

namespace tb::pg {

AsTableOwner::AsTableOwner(Oid relid, Mode mode) {
	pg_call([&] {
		GetUserIdAndSecContext(&saved_user_, &saved_context_);
		guc_level_ = NewGUCNestLevel();
		set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
		                  false);
		if (!superuser())
			return;
		HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for relation %u", relid);
		Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
		ReleaseSysCache(tuple);
		int context = saved_context_ | SECURITY_LOCAL_USERID_CHANGE;
		if (mode == Mode::Restricted)
			context |= SECURITY_RESTRICTED_OPERATION;
		SetUserIdAndSecContext(owner, context);
	});
}

AsTableOwner::~AsTableOwner() {
	// As AsExtensionOwner: while unwinding from an error the abort would restore both as well;
	// restoring here keeps the rest of the unwinding (and a successful path) on the caller's rights.
	SetUserIdAndSecContext(saved_user_, saved_context_);
	try {
		pg_call([level = guc_level_] { AtEOXact_GUC(true, level); });
	} catch (...) {
		// Only reachable when PostgreSQL is already failing; the abort restores the settings.
	}
}

} // namespace tb::pg
