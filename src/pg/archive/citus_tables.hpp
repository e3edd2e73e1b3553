// Citus tables are not restored yet (issue 15): rows loaded on the coordinator go into its local
// shell tables, past Citus, where no query sees them. Every path that writes tenant tables refuses
// distributed, reference and Citus local tables before it changes anything.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <string>
#include <vector>

namespace tb::pg {

// Whether the citus extension is installed in this database.
bool citus_installed();

// Refuses (feature_not_supported) if the table is in Citus's metadata (pg_dist_partition).
// Call only when citus_installed(): the catalog table exists only then. Needs SPI connected.
void refuse_citus_table(Oid relid, const std::string &display_name, const std::string &what);

} // namespace tb::pg

namespace tb::pg {

// refuse_citus_table for every table of the backup (its catalog row), before a restore reads the
// archive; does nothing without Citus. Needs SPI connected.
void refuse_citus_tables_of_backup(int64 backup_id);

} // namespace tb::pg
