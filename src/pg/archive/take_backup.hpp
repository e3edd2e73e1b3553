// Taking a backup, for backup_create and for scheduled jobs.
#pragma once
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"

namespace tb::pg {

// Backs up backup.tenant (as given: canonicalized here) with backup.label and backup.kind, under
// one snapshot, into the repository; the archive is published when the transaction commits. The
// current user needs backup.create; the action is audited. With backup.id already set, the new
// catalog row replaces the 'running' row of that id (a scheduled job's). Needs SPI connected.
void take_backup(NewBackup &backup);

// How a backup reads the tenant's rows on Citus workers (docs/CITUS.md).
enum class WorkerReads {
	// Each worker under one snapshot (citus_tables.hpp WorkerSnapshotScope): the workers'
	// transactions begin at REPEATABLE READ, to the end of the caller's transaction. Every backup
	// but the one below.
	OneSnapshot,
	// At the caller's own level: at READ COMMITTED each table's rows under a snapshot of their own
	// (one statement per table), on the coordinator under one snapshot. For the pre_restore backup
	// of a restore that writes Citus distributed tables: its DELETEs and loads follow in the same
	// worker transactions, and must see every row committed until they run (a worker transaction
	// begun at REPEATABLE READ would hide them). The restore holds the tenant's lock exclusively
	// meanwhile, so no writer that calls tenant_writing() runs during its reads.
	Statement,
};

// The same, recorded by the caller's `audit` (which it made before checking its arguments, so
// that their refusal is audited too); its tenant is set to the canonical spelling here.
void take_backup(NewBackup &backup, AuditedAction &audit, WorkerReads reads = WorkerReads::OneSnapshot);
// The backup a restore of backup `restored_id` takes first (issue 21), in its transaction: kind
// pre_restore, labelled "before restore of backup N", of the tenant as it is, read as `reads` says.
// The restore's backup.restore suffices (no backup.create), and the quota does not apply. Returns
// its id.
int64 take_pre_restore_backup(const std::string &tenant, int64 restored_id, WorkerReads reads);

// What take_backup checks before it reads anything, as the current user: the tenant value casts to
// every tenant column, backup.create on it (a denial audited on `audit`), the root tables hold it,
// no table has row-level security. Returns the tenant's canonical spelling. Needs SPI connected.
std::string check_backup_allowed(const std::string &tenant, AuditedAction &audit);

} // namespace tb::pg
