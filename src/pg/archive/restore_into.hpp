// Side by side (issue 21): backup_restore_into(backup_id, target_schema) materializes a backup's
// tables, with the tenant's rows, in a new schema owned by the caller, for inspection or copying by
// hand. Production rows are never touched.
//
//  - The schema: created (CREATE SCHEMA, the name quoted as an identifier, so any text is just a
//    name), owned by the caller; an existing schema is used only if it is empty (nothing in
//    pg_depend refers to it) and the caller owns it; any other is refused before anything is read.
//  - Its tables: one per table of the backup, named as the table in the archive (or
//    "schema.table", one identifier, when two tables of the backup share a name). A table that
//    still exists is created LIKE it, with exactly the columns a restore would load (the restore's
//    planner and column mapping, restore_plan.hpp: columns renamed since under their names now,
//    types changed since converted, columns dropped since left out), their types, collations and
//    NOT NULL, and its primary key (added after the load) if it has one. A table dropped since is
//    created from the archive's column definitions (each type found again by name, refused if it
//    no longer exists), without any key. No defaults, CHECK constraints, other indexes, triggers,
//    foreign keys, identity or generated expressions: an inspection copy runs no code of the
//    tables' owners and consumes none of their sequences. Plain tables: the copy of a partitioned
//    table is not partitioned; on a Citus coordinator they are local tables of the coordinator
//    (Citus distributes a table only when asked), whatever the live table is.
//  - Excluded from backups: each new table holds the tenant column, so it is excluded (a row of
//    tenant_backup.registered_tables, as backup_exclude_table makes), or it would join the
//    tenant's next backups and restores.
//  - Its rows: the restore's own loader, streamed (ArchivedTuples: each row checked to hold the
//    backup's tenant where the table has a tenant column; COPY FROM), so memory is bounded. When a
//    superuser calls it, a table that still exists is loaded as that table's owner (as the diff
//    engine loads its copies), and a dropped table whose column types would run another role's
//    code is refused.
// Shows row contents: needs backup.download, and SELECT on every table and column of the backup
// (as backup_download); locks the tenant shared and the live tables ACCESS SHARE, as a backup does.
// Needs SPI connected.
#pragma once
#include "pg/catalog/audit.hpp"

#include <string>
#include <vector>

namespace tb::pg {

struct MaterializedTable {
	std::string table;       // schema.name of the archived table, as it is named now
	std::string restored_as; // the new table, quoted schema.name
	uint64 rows = 0;
};

std::vector<MaterializedTable> restore_into_schema(int64 backup_id, const std::string &schema, AuditedAction &audit);

} // namespace tb::pg
