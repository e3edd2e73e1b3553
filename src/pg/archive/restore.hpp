// Restoring a backup, for backup_restore and for the asynchronous restore jobs (backup_jobs): one
// code path, so that both give the same guarantees. Everything happens in the caller's
// transaction: the archive's SHA-256 is checked first, then per table DELETE + COPY FROM (every
// loaded row must carry the backup's tenant), or for a table whose rows have a key only the
// differences (diff_apply.hpp), then foreign keys, and last the sequences, which
// move only when the transaction commits. Any error aborts the transaction, leaving the tenant as
// it was. User triggers do not fire during our own DELETE and COPY (LoadingScope:
// session_replication_role = replica for those statements only), as with pg_restore
// --disable-triggers: a restore brings back data, it does not replay business logic. A
// superuser's restore writes each table as the table's owner (AsTableOwner). On a Citus
// coordinator, tables hash-distributed by the tenant column are deleted and loaded through Citus
// (citus_tables.hpp); every other Citus table kind is refused before anything changes.
#pragma once
#include "pg/archive/foreign_keys.hpp"
#include "pg/archive/restore_plan.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

struct RestoredTableResult {
	std::string name;
	uint64 removed = 0, restored = 0;
	bool skipped = false; // dropped since the backup: listed with NULL counts
	// A preview's diff (issue 21): rows only in the backup, only live, changed, unchanged.
	std::optional<std::array<uint64, 4>> diff;
};

struct RestoreOutcome {
	std::vector<RestoredTableResult> tables;
	std::optional<int64> pre_restore_backup; // the backup that undoes the restore (issue 21)
};

// What is checked before anything is read or changed, as the current user: the backup exists and
// is completed, the user holds backup.restore on its tenant (a denial is audited on `audit`), the
// privileges the last step needs on the tables' sequences, and no Citus table kind a restore
// cannot write. Returns the backup (its catalog row locked FOR UPDATE). Needs SPI connected.
StoredBackup check_restore_allowed(int64 backup_id, AuditedAction &audit);
// What a preview checks first, as the current user: backup.view instead of backup.restore, and
// the rest as check_restore_allowed. Returns the backup. Needs SPI connected.
StoredBackup check_preview_allowed(int64 backup_id, AuditedAction &audit);

// check_restore_allowed, then the restore itself; the action is recorded on `audit` (ok) in the
// transaction. One result per table, in the archive's order (a table dropped since the backup is
// skipped, unless options.strict). backup_progress shows it (kind
// restore, with its phase) while it runs. Needs SPI connected.
// Issue 21: first, unless options.pre_restore (or the setting) says not, a backup of the tenant
// as it is, in this transaction (kind pre_restore, take_pre_restore_backup), after every table was
// planned and before any row changes; restoring it undoes the restore (its id is returned).
// options.missing and options.tables: see RestoreOptions (restore_plan.hpp); options.rows: a
// restore aimed at rows, archive/row_aim.hpp (restore_rows; preview_rows). Callers go through
// run_restore (below).
RestoreOutcome restore_with_undo(int64 backup_id, AuditedAction &audit, const RestoreOptions &options);

// What restore_with_undo(backup_id, audit, options) would do, per table, changing nothing: its checks and
// plans (backup.view instead of backup.restore), then the diff engine's counts
// (archive/diff_engine.hpp): removed and restored are the rows it would delete and load.
// Foreign keys and sequences are not checked (only the load shows them). Needs SPI connected.
std::vector<RestoredTableResult> preview_restore(int64 backup_id, AuditedAction &audit, const RestoreOptions &options);

// A restore as its caller asks for it: backup_restore's options (its options form, and the 0.1.0
// and strict forms with their defaults), the same for a synchronous call and for an asynchronous
// job, which carries them (backup_jobs.options and .strict, archive/restore_request.hpp).
struct RestoreRequest {
	bool dry_run = false;
	RestoreOptions options;
};
// The audit action of a request: restore_preview or restore.
const char *restore_action(const RestoreRequest &request);
// Its checks before the archive is read (check_preview_allowed or check_restore_allowed, and the
// shape of rows =>): what an asynchronous submission checks. Returns the backup. Needs SPI connected.
StoredBackup check_restore_request(int64 backup_id, AuditedAction &audit, const RestoreRequest &request);
// The one entry of every restore, synchronous or asynchronous: a preview (dry_run:
// preview_restore, which changes nothing and takes no backup) or restore_with_undo. Needs SPI
// connected.
RestoreOutcome run_restore(int64 backup_id, AuditedAction &audit, const RestoreRequest &request);

// The steps a row-aimed restore (archive/row_aim.hpp) shares with the others.
class ArchivedCopy;
class BackupProgress;
// Mode 'missing': the backup's rows (of `archived`, alias x) whose key the tenant has no row for
// now are inserted, with the restore's own checks (tenant, drift, triggers off, as the table's
// owner); no row is deleted or changed. `only`, if given, a further condition on x. A table
// without a key to match rows by is skipped with a WARNING; rows whose unique key holds a NULL are
// never missing. Returns the rows inserted.
uint64 insert_missing(const RestoredTable &r, const ArchivedCopy &archived, const std::string &only = "");
// The last steps of every mode: foreign keys, then the sequences, and the audit (ok).
void finish_restore(BackupProgress &progress, ForeignKeyChecks &foreign_keys,
                    const std::vector<RestoredTable> &restored, const StoredBackup &backup, int64 id,
                    const RestoreOptions &options, AuditedAction &audit);

} // namespace tb::pg
