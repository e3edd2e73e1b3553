// Whether a tenant value names any rows, to catch a typo'd tenant ('Acme' for 'acme'), issue
// 19.5: a NOTICE for a backup of a tenant with no rows anywhere, or a schedule set for one; an
// error where root tables of tenants exist (issue 17) and none has the tenant's row.
#pragma once
#include "pg/catalog/tenant_tables.hpp"

#include <string>

namespace tb::pg {

// Whether any tenant table has a row of `tenant`. Tables whose tenant column type does not take
// the value have none; one the current user cannot read in full (no USAGE or SELECT, row-level
// security) counts as having some. Needs SPI connected.
bool tenant_has_rows(const std::string &tenant, const std::vector<TenantTable> &tables);

// A NOTICE that `tenant` has no rows in any tenant table; `what` says what was done anyway
// ("backup 17 is empty", "the schedule was set"). Needs SPI connected.
void notice_tenant_without_rows(const std::string &tenant, const std::string &what);

// Where backups have root tables (backup_tables(): rows found by "root", the tables the tenant
// columns reference), refuses (undefined_object) a tenant that none of them has a row for;
// `consequence` ends the message ("nothing was backed up"). A root table the caller cannot read
// in full makes no claim. Needs SPI connected.
void require_tenant_in_root_tables(const std::string &tenant, const std::vector<TenantTable> &tables,
                                   const std::string &consequence);

} // namespace tb::pg
