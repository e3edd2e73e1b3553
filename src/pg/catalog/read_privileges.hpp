// What a download or CSV export renders must be readable by the caller as the tables are now:
// SELECT on each table (or on each archived column), USAGE on its schema, and no row-level
// security applying to the caller (a backup holds every row of the tenant, so a policy that
// would hide some of them cannot be honoured). A backup taken by a superuser or the scheduler
// holds what its taker could read, not what the downloader may.
#pragma once
#include "core/archive/format.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <string>
#include <vector>

namespace tb::pg {

// An archived table as the catalog lists it (tenant_backup.backups.tables).
struct ArchivedTable {
	std::string schema, name;
	std::vector<std::string> columns;
};

// The tables of backup `id` as the catalog records them.
std::vector<ArchivedTable> catalog_tables(int64 id);

// Refuses with insufficient_privilege, naming every table and column the current user may not
// read, unless it may read all of `tables` (superusers and the extension's owner always may).
// The denial is audited as `action` of backup `id` of `tenant`; `consequence` ends the message.
// Returns whether the checks applied (false for backup admins): then every archived table header
// must also pass check_header_within before its rows are rendered.
bool require_read_privileges(const std::vector<ArchivedTable> &tables, int64 id, const std::string &tenant,
                             const char *action, const char *consequence);

// Whether the archive's table header is within what was checked: the table is one of `checked`
// and each of its columns one of the table's there. Throws data_corrupted otherwise (the archive
// disagrees with its catalog row).
void check_header_within(const archive::TableHeader &table, const std::vector<ArchivedTable> &checked, int64 id);

} // namespace tb::pg
