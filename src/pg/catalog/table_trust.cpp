// Which roles' tables may become tenant tables by discovery (docs/SECURITY.md, "Which tables a
// backup contains"). A table joins every tenant's backup, restore and download, and its triggers,
// defaults and index expressions run during restores: a role that can merely create a table must
// not be able to put one there. Superusers, the database owner and the extension owner are trusted,
// and so are the roles a superuser lists in tenant_backup.table_owners (and their members).
#include "pg/catalog/table_trust.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/settings.hpp"

extern "C" {
#include "utils/acl.h"
#include "utils/varlena.h"
#include "miscadmin.h"
#include "catalog/pg_database.h"
#include "utils/syscache.h"
}

namespace tb::pg {

namespace {

Oid database_owner() {
	return pg_eval([] {
		HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
		Oid owner = InvalidOid;
		if (HeapTupleIsValid(tuple)) {
			owner = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple))->datdba;
			ReleaseSysCache(tuple);
		}
		return owner;
	});
}

// A member of one of the roles listed in tenant_backup.table_owners (unknown names are ignored:
// a role dropped after the setting was written trusts nobody).
bool listed_owner(Oid owner) {
	const char *setting = setting_table_owners();
	if (!setting || !setting[0])
		return false;
	return pg_eval([owner, setting] {
		char *copy = pstrdup(setting);
		List *names = NIL;
		if (!SplitIdentifierString(copy, ',', &names))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("tenant_backup.table_owners is not a list of role names")));
		ListCell *cell;
		foreach (cell, names) {
			Oid role = get_role_oid(static_cast<const char *>(lfirst(cell)), true);
			if (OidIsValid(role) && is_member_of_role(owner, role))
				return true;
		}
		return false;
	});
}

} // namespace

bool trusted_table_owner(Oid owner) {
	return pg_eval([owner] { return superuser_arg(owner); }) || owner == database_owner() ||
	       owner == extension_owner() || listed_owner(owner);
}

} // namespace tb::pg
