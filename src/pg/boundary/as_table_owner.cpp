#include "pg/boundary/as_table_owner.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/search_path.hpp"

#include <exception>

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "utils/syscache.h"
}

namespace tb::pg {

Oid relation_owner(Oid relid) {
	HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

AsTableOwner::AsTableOwner(Oid relid, Mode mode) : exceptions_at_entry_(std::uncaught_exceptions()) {
	enter(relid, InvalidOid, mode);
}

AsTableOwner::AsTableOwner(Role role, Mode mode) : exceptions_at_entry_(std::uncaught_exceptions()) {
	enter(InvalidOid, role.oid, mode);
}

void AsTableOwner::enter(Oid relid, Oid role, Mode mode) {
	pg_call([&] {
		GetUserIdAndSecContext(&saved_user_, &saved_context_);
		guc_level_ = pin_search_path_in_new_level();
		if (!superuser())
			return;
		Oid owner = OidIsValid(role) ? role : relation_owner(relid);
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
	end_guc_level(guc_level_, exceptions_at_entry_);
}

} // namespace tb::pg
