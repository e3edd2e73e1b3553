// Asynchronous restores and backups (tenant_backup.backup_jobs): a job is submitted in the
// caller's transaction (backup_restore_async, backup_create_async) and run by a background worker
// of its own (async_worker.cpp) once that transaction has committed, as the role that submitted
// it, through the very code of the synchronous call (run_restore with the call's options,
// archive/restore_request.hpp; take_backup): one
// transaction, atomic, every permission checked again by that code in the worker.
//
//   queued    --claim-->  running  --its transaction commits-->         completed
//   queued    --backup_cancel-->  cancelled
//   running   --backup_cancel (the worker's query is cancelled)-->       cancelled
//   running   --error, termination (pg_terminate_backend, shutdown)-->   failed
//   running   --worker gone (crash, SIGKILL, server restart), reaped-->  failed
//   queued    --worker gone (it could not log in, a restart), reaped-->  failed
//
// Catalog writes run as the extension's owner (AsExtensionOwner). Needs SPI connected.
#pragma once
#include "pg/boundary/pg_headers.hpp"
#include "pg/catalog/audit.hpp"

#include <optional>
#include <string>

namespace tb::pg {

constexpr const char *kAsyncWorkerType = "tenant_backup async job";

struct AsyncJob {
	int64 id = 0;
	std::string kind; // restore, preview (a restore with dry_run), backup
	std::string tenant;
	int64 backup_id = 0; // restore: the backup restored
	std::optional<std::string> label;
	Oid requested_by = InvalidOid;       // the current user at submit: the job runs as this role
	Oid session_role = InvalidOid;       // the session user at submit: its worker logs in as this role
	std::optional<std::string> settings; // JSON object: the caller's session values of our settings
	bool strict = false;                 // a restore: backup_restore's strict
	std::optional<std::string> options;  // a restore: its other options (archive/restore_request.hpp)
};

// Inserts a queued job of the current user, with the values of tenant_backup.* settings the
// calling session SET (the synchronous call would use them: the job does), and starts its worker, which waits for the
// current transaction to end (a job whose submission rolls back never runs). Refused with a clear error when no
// background worker slot is free, or in a security-restricted operation. Returns its id.
// A restore's `options`: restore_request_json of its request.
int64 submit_async_job(const std::string &kind, const std::string &tenant, int64 backup_id,
                       const std::optional<std::string> &label, bool strict = false,
                       const std::optional<std::string> &options = std::nullopt);

// The worker: marks job `id` running with its pid, if it is still queued (a job cancelled before
// it started is not); committed before the work starts.
std::optional<AsyncJob> claim_async_job(int64 id, int pid);
// In the work's own transaction, so that the outcome commits exactly with the work. A restore's
// pre_restore backup (the one that undoes it) is recorded in pre_restore_backup_id.
void complete_async_job(int64 id, int64 backup_id, int tables, int64 rows, const std::optional<std::string> &result,
                        std::optional<int64> pre_restore_backup = std::nullopt);
// After the work's transaction aborted: cancelled when backup_cancel asked for it, failed with
// `reason` otherwise.
void fail_async_job(int64 id, const std::string &reason);

// Jobs whose worker is gone (a crash, SIGKILL, a server restart; for a queued job, a worker that
// could not log in) are marked failed: queued and running jobs whose worker is no longer alive,
// or that were submitted or started before the server started. Called by
// the scheduler at every pass, and by every submission and cancellation. Returns how many.
// apply_timeout (the scheduler): running jobs older than tenant_backup.job_timeout are terminated.
// Does nothing before the extension's 0.2.0 catalog exists.
int reap_lost_async_jobs(bool apply_timeout);

// backup_cancel: whether the job was cancelled (false: it had ended already). Only the role that
// submitted it, or a backup admin, may; others are refused (audited as denied) and, unless they
// may view the tenant, told the job does not exist. The job's tenant and backup are set on `audit`.
bool cancel_async_job(int64 id, AuditedAction &audit);

} // namespace tb::pg
