// Whether a tenant value names any rows, for the notices that catch a typo'd tenant ('Acme' for
// 'acme'): a backup of a tenant with no rows anywhere, a schedule set for one (issue 19.5).
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

} // namespace tb::pg
