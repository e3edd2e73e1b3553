// A restore drill: would this backup restore into the tables as they are now? The restore's own
// planner (restore_plan.hpp: tables found alike, privileges, triggers, schema drift and column
// mapping) and loader (MappedTuples, the tenant check, COPY FROM) run, but the rows go into
// temporary copies of the tables (CREATE TEMP TABLE ... (LIKE ...): same columns, defaults, NOT
// NULL and CHECK constraints), in a subtransaction that is always rolled back. Production rows are
// never touched. Locks, all released when the drill ends: the tenant's lock shared (as a backup
// takes it), ROW EXCLUSIVE on each table of the backup (as any writer takes it: writers never wait
// for a drill; DDL on those tables waits until it ends), ACCESS SHARE for each LIKE.
// Not checked: foreign keys to rows outside the backup, unique keys against other tenants' rows,
// partition routing (the copies are plain tables).
#pragma once
#include "pg/archive/backup_check.hpp"
#include "pg/catalog/catalog.hpp"

#include <string>

namespace tb::pg {

// error: the exact reason the restore would fail (table, column, rule).
using DrillOutcome = VerifyOutcome;

// Drills `backup` (authorized by the caller), records the outcome in tenant_backup.backups
// (drilled_at, drill_status, drill_error) and logs a failure with the tenant, the backup and the
// cause. A query cancel is rethrown. Needs SPI connected.
DrillOutcome drill_backup(const StoredBackup &backup);

} // namespace tb::pg
