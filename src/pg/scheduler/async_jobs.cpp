#include "pg/scheduler/async_jobs.hpp"

#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/permissions.hpp"

#include <csignal>
#include <map>

namespace tb::pg {

namespace {

const char *const kLost =
    "interrupted: the job's worker exited before finishing (crash, termination or server restart)";
const char *const kNeverStarted = "its worker exited before starting the job: it could not log in as the submitting "
                                  "role (see the server log: NOLOGIN, a connection limit) or the server restarted";

// Whether `pid` is an asynchronous job worker now: the postmaster's slot of the worker names it
// from its start (the worker has no PGPROC, nor a database, until moments later) until it exits.
// For a queued job. (A pid reused after a server restart is told apart by the caller: a job
// started before the restart is lost whatever runs.)
bool async_worker_alive(int pid) {
	if (pid <= 0)
		return false;
	return pg_eval([pid] {
		const char *type = GetBackgroundWorkerTypeByPid(pid);
		return type != nullptr && strcmp(type, kAsyncWorkerType) == 0;
	});
}

// The time a running job was claimed, as backup_jobs.started_at holds it (a TimestampTz: its
// microseconds since 2000-01-01 UTC).
const char *const kClaimedAt = "coalesce((extract(epoch FROM started_at - '2000-01-01 "
                               "00:00:00+00'::pg_catalog.timestamptz) * 1000000)::bigint, 0)";

// Whether the worker that claimed a running job (at `claimed_at`) still runs it: `pid` is an
// asynchronous job worker that started before the claim. A pid the kernel handed to another
// process since its worker died (a crash, a FATAL error), even to the worker of another job, is
// not. A worker ends its job only by recording the outcome in the job's row: under that row's
// lock (FOR UPDATE) a worker that passes this check is still on the job, and a signal sent then
// reaches that job (only a worker dying abnormally in the very instant, its pid handed on at once,
// could be missed, as by pg_cancel_backend itself).
bool runs_job(int pid, int64 claimed_at) {
	std::optional<TimestampTz> started = pg_eval([pid] { return worker_started_at(pid, kAsyncWorkerType); });
	return started && *started <= claimed_at;
}

// The settings besides ours whose value in the calling session an asynchronous job takes on, as
// the synchronous call would run with them (docs/REFERENCE.md, "What the job takes from the
// calling session"): TimeZone, lc_monetary and xmloption change how a value converts under
// schema drift (timestamp to timestamptz, money, text to xml; PinnedValueStyles pins the other
// styles), lock_timeout whether a lock wait fails. search_path is pinned in both, the roles are
// the job's own columns, and statement_timeout is left behind on purpose (tenant_backup.job_timeout
// bounds a job).
const char *const kCarriedSettings = "'TimeZone', 'lc_monetary', 'xmloption', 'lock_timeout'";

// Signals the worker's process group, as pg_cancel_backend and pg_terminate_backend do.
void signal_worker(int pid, int signal) {
#ifdef HAVE_SETSID
	kill(-pid, signal);
#else
	kill(pid, signal);
#endif
}

// Lost jobs marked failed in passing, in a subtransaction: a submission or a cancellation never
// fails for it (in a REPEATABLE READ transaction the row of a job that just ended cannot be
// updated); the scheduler's pass, or the next call, marks them.
void reap_quietly() {
	(void)try_in_subtransaction([] { reap_lost_async_jobs(false); });
}

} // namespace

int64 submit_async_job(const std::string &kind, const std::string &tenant, int64 backup_id,
                       const std::optional<std::string> &label, bool strict,
                       const std::optional<std::string> &options) {
	// The worker takes on the current user's identity; from inside an index expression or a
	// maintenance command's code that identity is borrowed.
	if (pg_eval([] { return InSecurityRestrictedOperation(); }))
		throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE,
		               "cannot submit a tenant_backup job within a security-restricted operation");
	reap_quietly();
	Oid user = pg_eval([] { return GetUserId(); });
	Oid session = pg_eval([] { return GetSessionUserId(); });
	// As the caller: the settings it can see. Ours that the session SET, and those whose session
	// value changes the result of the restore or backup (kCarriedSettings), whatever set them.
	SqlValue settings =
	    spi_query(std::string("SELECT pg_catalog.jsonb_object_agg(s.name, pg_catalog.current_setting(s.name)) "
	                          "FROM pg_catalog.pg_settings s WHERE (s.name LIKE 'tenant\\_backup.%' "
	                          "AND s.source = 'session') OR s.name IN (") +
	              kCarriedSettings + ")")
	        .at(0)[0];
	int64 id;
	{
		AsExtensionOwner owner;
		auto rows =
		    spi_query("INSERT INTO tenant_backup.backup_jobs (kind, tenant, backup_id, label, requested_by, "
		              "session_role, settings, strict, options) VALUES ($1, $2, $3::bigint, $4, "
		              "$5::pg_catalog.oid, $6::pg_catalog.oid, $7::jsonb, $8::boolean, $9::jsonb) RETURNING id",
		              {kind, tenant, backup_id ? SqlValue(std::to_string(backup_id)) : std::nullopt, label,
		               std::to_string(user), std::to_string(session), settings, strict ? "true" : "false", options});
		id = std::stoll(*rows.at(0)[0]);
	}
	TransactionId xid = pg_eval([] { return GetTopTransactionId(); });
	Oid database = pg_eval([] { return MyDatabaseId; });
	std::string extra =
	    std::to_string(database) + " " + std::to_string(id) + " " + std::to_string(xid) + " " + std::to_string(session);
	BackgroundWorkerHandle *handle =
	    pg_eval([&] { return start_worker("tenant_backup_async_job_main", kAsyncWorkerType, extra, 0, true); });
	if (!handle) {
		int slots = pg_eval([] { return max_worker_processes; });
		throw SqlError(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
		               "could not start a background worker for the tenant_backup job; nothing was submitted", "",
		               "Every background worker slot is in use: try again later, or raise max_worker_processes (now " +
		                   std::to_string(slots) + ").");
	}
	// Its pid, once the postmaster has started it (moments): a queued job whose worker exits
	// without claiming it (it could not log in: NOLOGIN, a connection limit) is then found lost.
	pid_t pid = 0;
	BgwHandleStatus status = pg_eval([handle, &pid] {
		BgwHandleStatus started = WaitForBackgroundWorkerStartup(handle, &pid);
		pfree(handle); // it notifies no one after that: the job's row tells how it went
		return started;
	});
	if (status == BGWH_POSTMASTER_DIED)
		throw SqlError(ERRCODE_ADMIN_SHUTDOWN, "the server is shutting down; nothing was submitted");
	AsExtensionOwner owner;
	if (status == BGWH_STOPPED) // exited already: it could not even log in
		spi_query("UPDATE tenant_backup.backup_jobs SET state = 'failed', error = $2, finished_at = clock_timestamp() "
		          "WHERE id = $1::bigint",
		          {std::to_string(id), kNeverStarted});
	else
		spi_query("UPDATE tenant_backup.backup_jobs SET worker_pid = $2::int WHERE id = $1::bigint",
		          {std::to_string(id), std::to_string(pid)});
	return id;
}

std::optional<AsyncJob> claim_async_job(int64 id, int pid) {
	AsExtensionOwner owner;
	auto rows = spi_query("UPDATE tenant_backup.backup_jobs SET state = 'running', worker_pid = $2::int, "
	                      "started_at = clock_timestamp() WHERE id = $1::bigint AND state = 'queued' "
	                      "RETURNING kind, tenant, coalesce(backup_id, 0), label, requested_by::pg_catalog.oid, "
	                      "session_role::pg_catalog.oid, settings, strict, options",
	                      {std::to_string(id), std::to_string(pid)});
	if (rows.empty())
		return std::nullopt;
	const SqlRow &row = rows[0];
	AsyncJob job;
	job.id = id;
	job.kind = *row[0];
	job.tenant = *row[1];
	job.backup_id = std::stoll(*row[2]);
	job.label = row[3];
	job.requested_by = static_cast<Oid>(std::stoul(*row[4]));
	job.session_role = static_cast<Oid>(std::stoul(*row[5]));
	job.settings = row[6];
	job.strict = *row[7] == "t";
	job.options = row[8];
	return job;
}

void complete_async_job(int64 id, int64 backup_id, int tables, int64 rows, const std::optional<std::string> &result,
                        std::optional<int64> pre_restore_backup) {
	AsExtensionOwner owner;
	auto updated =
	    spi_query("UPDATE tenant_backup.backup_jobs SET state = 'completed', finished_at = clock_timestamp(), "
	              "backup_id = $2::bigint, tables_done = $3::int, rows_done = $4::bigint, "
	              "result = $5::jsonb, pre_restore_backup_id = $6::bigint WHERE id = $1::bigint AND state = 'running' "
	              "RETURNING 1",
	              {std::to_string(id), std::to_string(backup_id), std::to_string(tables), std::to_string(rows), result,
	               pre_restore_backup ? SqlValue(std::to_string(*pre_restore_backup)) : std::nullopt});
	if (updated.empty()) // marked failed meanwhile: the work must not commit without its outcome
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "tenant_backup job " + std::to_string(id) + " is no longer running; its work is rolled back");
}

void fail_async_job(int64 id, const std::string &reason) {
	AsExtensionOwner owner;
	spi_query("UPDATE tenant_backup.backup_jobs SET "
	          "state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, "
	          "error = CASE WHEN cancel_requested THEN 'cancelled by backup_cancel: ' || "
	          "  CASE kind WHEN 'backup' THEN 'nothing was backed up' ELSE 'nothing was restored' END ELSE $2 END, "
	          "finished_at = clock_timestamp() WHERE id = $1::bigint AND state IN ('queued', 'running')",
	          {std::to_string(id), reason});
}

int reap_lost_async_jobs(bool apply_timeout) {
	AsExtensionOwner owner;
	auto exists = spi_query("SELECT pg_catalog.to_regclass('tenant_backup.backup_jobs') IS NOT NULL");
	if (*exists.at(0)[0] != "t")
		return 0;
	int timeout = apply_timeout ? setting_job_timeout() : 0;
	int reaped = 0;
	// Not locked: a job is marked lost only when the worker that claimed it has exited, so every
	// transaction of that worker has ended, and the UPDATE, which reads the row as it is now,
	// leaves a job it ended alone.
	for (const auto &row :
	     spi_query(std::string("SELECT id, state, coalesce(worker_pid, 0), "
	                           "  coalesce(started_at, submitted_at) >= "
	                           "pg_catalog.pg_postmaster_start_time(), "
	                           "  coalesce(extract(epoch FROM clock_timestamp() - started_at)::bigint, "
	                           "0), ") +
	               kClaimedAt +
	               " FROM tenant_backup.backup_jobs WHERE state IN ('queued', 'running') "
	               "ORDER BY id")) {
		const std::string &id = *row[0], &state = *row[1];
		int pid = std::stoi(*row[2]);
		int64 claimed_at = std::stoll(*row[5]);
		bool lost = *row[3] != "t" || (state == "queued" ? !async_worker_alive(pid) : !runs_job(pid, claimed_at));
		if (lost) {
			reaped += static_cast<int>(spi_query("UPDATE tenant_backup.backup_jobs SET state = 'failed', error = $3, "
			                                     "finished_at = clock_timestamp() WHERE id = $1::bigint AND state = $2 "
			                                     "RETURNING 1",
			                                     {id, state, state == "queued" ? kNeverStarted : kLost})
			                               .size());
		} else if (timeout > 0 && state == "running" && std::stoll(*row[4]) > timeout) {
			// Once per job: a second SIGTERM while the worker records the first one's outcome would
			// end it before it could, and leave the job to be reaped as lost instead of terminated.
			static std::map<std::string, int> signalled; // job id -> worker pid (this scheduler's)
			auto it = signalled.find(id);
			if (it != signalled.end() && it->second == pid)
				continue;
			// Under the job's row lock, its worker still on it (runs_job); a row locked now is
			// left to the next pass (its worker records its outcome, or backup_cancel acts).
			if (spi_query("SELECT 1 FROM tenant_backup.backup_jobs WHERE id = $1::bigint AND state = 'running' "
			              "AND worker_pid = $2::int FOR UPDATE SKIP LOCKED",
			              {id, std::to_string(pid)})
			        .empty() ||
			    !runs_job(pid, claimed_at))
				continue;
			signalled[id] = pid;
			signal_worker(pid, SIGTERM); // it rolls back and records itself failed (terminated)
		}
	}
	return reaped;
}

bool cancel_async_job(int64 id, AuditedAction &audit) {
	Oid role = pg_eval([] { return GetUserId(); });
	reap_quietly();
	std::vector<SqlRow> rows;
	{
		AsExtensionOwner owner;
		rows = spi_query(std::string("SELECT requested_by::pg_catalog.oid, state, coalesce(worker_pid, 0), tenant, "
		                             "coalesce(backup_id, 0), requested_by::text, ") +
		                     kClaimedAt + " FROM tenant_backup.backup_jobs WHERE id = $1::bigint FOR UPDATE",
		                 {std::to_string(id)});
	}
	std::string missing = "tenant_backup job " + std::to_string(id) + " does not exist";
	if (rows.empty())
		throw SqlError(ERRCODE_UNDEFINED_OBJECT, missing);
	const SqlRow &job = rows[0];
	Oid requester = static_cast<Oid>(std::stoul(*job[0]));
	const std::string &state = *job[1], &tenant = *job[3];
	int pid = std::stoi(*job[2]);
	int64 backup_id = std::stoll(*job[4]);
	audit.set_tenant(tenant);
	audit.set_backup(backup_id);
	if (requester != role && !is_backup_admin(role)) {
		// A role that may not even view the tenant learns nothing about the job.
		bool sees = holds_permission(role, "backup.view", tenant);
		std::string message = sees ? "permission denied: only the role that submitted tenant_backup job " +
		                                 std::to_string(id) + " (" + *job[5] +
		                                 ") or a superuser or the extension's owner may cancel it"
		                           : missing;
		audit_autonomously({"cancel", tenant, backup_id, "denied", message});
		throw SqlError(sees ? ERRCODE_INSUFFICIENT_PRIVILEGE : ERRCODE_UNDEFINED_OBJECT, message);
	}
	AsExtensionOwner owner;
	if (state == "queued") {
		// Its worker, waiting for the submission to commit or about to start, finds it cancelled.
		spi_query("UPDATE tenant_backup.backup_jobs SET state = 'cancelled', finished_at = clock_timestamp(), "
		          "error = 'cancelled by backup_cancel before it started' WHERE id = $1::bigint",
		          {std::to_string(id)});
		return true;
	}
	if (state != "running")
		return false;
	if (!runs_job(pid, std::stoll(*job[6]))) {
		// Its worker is gone (it crashed, or died of a FATAL error): the job ended, unfinished, and
		// its pid may now be another process's, which is not signalled.
		spi_query("UPDATE tenant_backup.backup_jobs SET state = 'failed', error = $2, finished_at = clock_timestamp() "
		          "WHERE id = $1::bigint AND state = 'running'",
		          {std::to_string(id), kLost});
		return false;
	}
	// The worker's transaction is cancelled now (as pg_cancel_backend would): it rolls back, and
	// records the job cancelled once this transaction has committed (it waits for our row lock,
	// which also keeps it on this job until then: runs_job).
	spi_query("UPDATE tenant_backup.backup_jobs SET cancel_requested = true WHERE id = $1::bigint",
	          {std::to_string(id)});
	signal_worker(pid, SIGINT);
	return true;
}

} // namespace tb::pg
