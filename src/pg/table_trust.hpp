// Whose tables may become tenant tables, or serve as the tenant registry (table_trust.cpp).
#pragma once
#include "pg/pg_headers.hpp"

namespace tb::pg {

// A superuser, the database owner, the extension owner, or a member of a role listed in
// tenant_backup.table_owners. Needs SPI connected (the extension owner is looked up).
bool trusted_table_owner(Oid owner);

} // namespace tb::pg
