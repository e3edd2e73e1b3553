// Which roles' tables may become tenant tables by discovery (see table_trust.cpp).
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

// Whether a discovered table owned by this role is a tenant table: a superuser, the database
// owner, the extension owner or a member of a role listed in tenant_backup.table_owners.
bool trusted_table_owner(Oid owner);

} // namespace tb::pg
