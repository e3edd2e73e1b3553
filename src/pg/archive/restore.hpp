// Restoring a backup, for backup_restore and for the asynchronous restore jobs (backup_jobs): one
// code path, so that both give the same guarantees. Everything happens in the caller's
// transaction: the archive's SHA-256 is checked first, then per table DELETE + COPY FROM (every
// loaded row must carry the backup's tenant), then foreign keys, and last the sequences, which
// move only when the transaction commits. Any error aborts the transaction, leaving the tenant as
// it was. User triggers do not fire during our own DELETE and COPY (LoadingScope:
// session_replication_role = replica for those statements only), as with pg_restore
// --disable-triggers: a restore brings back data, it does not replay business logic. A
// superuser's restore writes each table as the table's owner (AsTableOwner). On a Citus
// coordinator, tables hash-distributed by the tenant column are deleted and loaded through Citus
// (citus_tables.hpp); every other Citus table kind is refused before anything changes.
#pragma once
#include "pg/archive/restore_plan.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"

#include <string>
#include <vector>

namespace tb::pg {

struct RestoredTableResult {
	std::string name;
	uint64 removed = 0, restored = 0;
	bool skipped = false; // dropped since the backup: listed with NULL counts
};

// What is checked before anything is read or changed, as the current user: the backup exists and
// is completed, the user holds backup.restore on its tenant (a denial is audited on `audit`), the
// privileges the last step needs on the tables' sequences, and no Citus table kind a restore
// cannot write. Returns the backup (its catalog row locked FOR UPDATE). Needs SPI connected.
StoredBackup check_restore_allowed(int64 backup_id, AuditedAction &audit);

// check_restore_allowed, then the restore itself; the action is recorded on `audit` (ok) in the
// transaction. One result per table, in the archive's order (a table dropped since the backup is
// skipped, unless options.strict). backup_progress shows it (kind
// restore, with its phase) while it runs. Needs SPI connected.
std::vector<RestoredTableResult> restore_backup(int64 backup_id, AuditedAction &audit,
                                               const RestoreOptions &options = {});

} // namespace tb::pg
