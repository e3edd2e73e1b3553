// Progress of running backups and restores, for the tenant_backup.backup_progress view: one slot
// per running backup or restore in shared memory, updated as rows are streamed. Only when tenant_backup is in
// shared_preload_libraries (shared memory is sized at server start); otherwise the view is an error.
// The view shows the backups of the current database whose tenant the caller may view.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <string>
#include <vector>

namespace tb::pg {

// From _PG_init while shared_preload_libraries is processed.
void request_progress_memory();

// While alive, this backend's backup shows in backup_progress. Without a free slot (or without
// preloading) it does nothing.
class BackupProgress {
public:
	BackupProgress(int64 backup_id, const std::string &tenant, const std::string &kind, int tables_total);
	~BackupProgress();
	BackupProgress(const BackupProgress &) = delete;
	BackupProgress &operator=(const BackupProgress &) = delete;
	// Starts the next table.
	void table(const std::string &name);
	// What it is doing now (a restore: "checking archive", "planning", "loading", ...).
	void phase(const char *name);
	void set_tables_total(int total);
	// The last table is done (table() counts the others as the next one starts).
	void tables_finished();
	// Rows and bytes from zero again (a restore, after its pre_restore backup counted its own).
	void reset_counts();

private:
	// Whether this one holds the backend's slot: a backup taken inside a restore (its
	// pre_restore backup) reports through the restore's, and leaves it in place when it ends.
	bool owns_ = false;
};

// While alive, what this backend starts under a BackupProgress belongs to asynchronous job
// `job_id` (backup_jobs), submitted by `requested_by`: its slot names them.
class ProgressJob {
public:
	ProgressJob(int64 job_id, Oid requested_by);
	~ProgressJob();
	ProgressJob(const ProgressJob &) = delete;
	ProgressJob &operator=(const ProgressJob &) = delete;
};

// Whether the slots exist (tenant_backup was preloaded).
bool progress_available();

// Counts rows and bytes (binary tuple bytes) of the backup in progress; a no-op without one.
// Plain C: called from the tuple receiver, in PostgreSQL frames.
void progress_add(uint64 rows, uint64 bytes);

// A copy of one slot, taken under its lock, for the backup_progress view.
struct RunningBackup {
	int pid;
	int64 backup_id;
	TimestampTz started_at;
	int tables_done, tables_total;
	int64 rows_done, bytes_done;
	std::string tenant; // clipped at a character boundary when tenant_clipped
	bool tenant_clipped;
	std::string kind;
	std::string table; // empty before the first table
	std::string phase; // empty when not set
	int64 job_id;      // 0: not an asynchronous job
	Oid requested_by;  // the job's submitter; InvalidOid when not a job
};

// The backups and restores running in the database, as their slots show them now (none without preloading).
std::vector<RunningBackup> running_backups(Oid database);

} // namespace tb::pg
