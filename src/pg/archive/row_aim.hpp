// A restore aimed at rows (issue 21): backup_restore(id, dry_run, rows => '{"public.invoices":
// [{"id": 17}]}') restores invoice 17 and, through the foreign keys, the rows that reference it
// (its lines, their notes, ...), nothing else.
//
// The selection holds no SQL text: a jsonb object whose keys name tables of the backup ("schema.
// name", compared as strings with the archive's names and the tables' names now) and whose values
// are arrays of objects giving the values of the table's primary key (else of the NOT NULL unique
// key backup_diff matches its rows by), one object per row, exactly those columns, each a JSON
// string, number or boolean. The values reach PostgreSQL as one jsonb parameter and are converted
// by jsonb_populate_recordset into a temporary table of the key's columns, so that they are typed
// as the columns are (a value that does not convert is the type's own input error).
//
// The selection then grows, table by table, through the foreign keys between the backup's tables:
// a row of a table that references (directly or through other selected rows) a selected row is
// selected too, on each side: in the backup (the archived row references the archived row) and now
// (the tenant's row references the tenant's row). A selected row is selected by its key on both
// sides, so that a line moved to another invoice since the backup moves back. Tables without such
// a key (no primary key, no NOT NULL unique key) take the rows that reference selected rows, on
// each side, without a key of their own; the selection does not grow through them.
//
// Every row is the backup's tenant's: the live rows are read through TenantTable::tenant_rows_sql
// ($1 the tenant), the archived rows are the restore's own (ArchivedTuples: each row checked to
// hold the tenant; rows of tables found through foreign keys are checked to reach the tenant
// before they are inserted). A key of another tenant's row selects nothing, and is reported like
// any key that matches no row (a WARNING that tells nothing about other tenants).
//
// What it does with the selection (docs/REFERENCE.md "Aimed at rows"):
//   - mode 'exact' (the default): the selection becomes exactly as in the backup: the tenant's
//     selected rows are deleted, the backup's selected rows inserted (a row of the selection that
//     the backup lacks is removed, as a whole restore would remove it);
//   - mode 'missing': only the backup's selected rows whose key the tenant has no row for now are
//     inserted (insert_missing); nothing is deleted or changed.
// The restore's guarantees hold: backup.restore, privileges and plans of every table of the backup
// (restore_plan.hpp), the pre_restore backup, one transaction, triggers off, foreign keys checked
// after the load (a row of the selection that references a row the selection did not bring back
// fails the restore naming both tables: ForeignKeyChecks::Aim::Rows), sequences advanced. The
// archived rows of the tables the selection reaches are loaded into temporary tables (the diff
// engine's ArchivedCopy): memory stays bounded, temporary space is those tables' size. Citus
// tables are refused. Needs SPI connected.
#pragma once
#include "pg/archive/restore.hpp"

namespace tb::pg {

RestoreOutcome restore_rows(int64 backup_id, AuditedAction &audit, const RestoreOptions &options);

// What restore_rows would do, per table of the selection, changing nothing (backup.view): the
// diff engine's counts of the selected rows on both sides.
std::vector<RestoredTableResult> preview_rows(int64 backup_id, AuditedAction &audit, const RestoreOptions &options);

// Refuses a rows => argument that is not an object of arrays naming at least one table (what a
// restore checks first), without reading the backup. Needs SPI connected.
void check_rows_argument(const std::string &rows);

} // namespace tb::pg
