// tenant_backup._trusted_table_owner(oid): whether a discovered table owned by this role is a
// tenant table (catalog/table_trust.hpp).
#include "pg/catalog/table_trust.hpp"

#include "pg/boundary/guard.hpp"

TB_SQL_FUNCTION(tenant_backup_trusted_table_owner) {
	using namespace tb::pg;
	Oid owner = PG_GETARG_OID(0);
	PG_RETURN_BOOL(trusted_table_owner(owner));
}
