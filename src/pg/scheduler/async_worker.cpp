// The worker of one asynchronous job (async_jobs.hpp): started by the submitting backend, it logs
// in as the submitter's session user, waits for the submitting transaction to end, claims the job
// (committed), takes on the submitter's current user, and runs the restore or backup in one
// transaction of its own through the same code as backup_restore (run_restore, with the
// submitted options) / backup_create (permissions
// checked there again, as that role), recording the outcome in that transaction. A failure, a
// cancel (backup_cancel sends SIGINT) or a termination (SIGTERM: pg_terminate_backend,
// tenant_backup.job_timeout, shutdown) rolls the work back and is recorded in a transaction of its
// own; a crash leaves the job running until reap_lost_async_jobs finds its worker gone.
#include "pg/archive/restore.hpp"
#include "pg/archive/restore_request.hpp"
#include "pg/archive/take_backup.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/tenant_presence.hpp"
#include "pg/scheduler/async_jobs.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/shared_memory/progress.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/syscache.h"
}

#include <cerrno>

namespace tb::pg {

namespace {

void log_warning(const std::string &message) {
	const char *m = message.c_str();
	pg_call([m] { ereport(WARNING, (errmsg("%s", m))); });
}

// The restore's results as backup_jobs.result: one object per row that backup_restore's options
// form returns, under its column names ({table, rows_removed, rows_restored, only_in_backup,
// only_live, changed, unchanged, pre_restore_backup_id}), null where that form returns NULL (the
// counts of a table skipped, dropped since the backup; the diff of a table reloaded whole).
std::string results_json(const RestoreOutcome &outcome, int64 &rows) {
	auto count = [](bool known, uint64 n) { return known ? std::to_string(n) : std::string("null"); };
	std::string undo = outcome.pre_restore_backup ? std::to_string(*outcome.pre_restore_backup) : "null";
	const char *const diff_names[4] = {"only_in_backup", "only_live", "changed", "unchanged"};
	std::string json = "[";
	rows = 0;
	for (const auto &r : outcome.tables) {
		json += (json.size() > 1 ? ", " : "") + std::string("{\"table\": ") + quote_json(r.name) +
		        ", \"rows_removed\": " + count(!r.skipped, r.removed) +
		        ", \"rows_restored\": " + count(!r.skipped, r.restored);
		for (int i = 0; i < 4; i++)
			json += std::string(", \"") + diff_names[i] + "\": " + count(r.diff.has_value(), r.diff ? (*r.diff)[i] : 0);
		json += ", \"pre_restore_backup_id\": " + undo + "}";
		rows += static_cast<int64>(r.restored);
	}
	return json + "]";
}

// The submitting session's values of our settings, as that session had them (it could set each
// one, as the session it is); for this transaction.
void apply_settings(const AsyncJob &job) {
	if (!job.settings)
		return;
	for (const auto &row : spi_query(
	         "SELECT s.key, s.value FROM pg_catalog.jsonb_each_text($1::jsonb) s ORDER BY s.key", {job.settings})) {
		const char *name = row[0]->c_str(), *value = row[1]->c_str();
		pg_call([name, value] {
			(void)set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
		});
	}
}

// The job's work, as the submitter, in the current transaction; its outcome recorded in it.
void do_job(const AsyncJob &job) {
	if (!lock_extension_tables())
		throw SqlError(ERRCODE_LOCK_NOT_AVAILABLE, "the extension tenant_backup is being dropped or changed");
	apply_settings(job);
	ProgressJob progress(job.id, job.requested_by);
	if (job.kind == "restore" || job.kind == "preview") {
		// The request the call was submitted with, through the one entry of every restore.
		RestoreRequest request = restore_request_from_json(job.options, job.strict);
		AuditedAction audit(restore_action(request), job.tenant, job.backup_id);
		RestoreOutcome outcome = run_restore(job.backup_id, audit, request);
		int64 rows = 0;
		std::string json = results_json(outcome, rows);
		complete_async_job(job.id, job.backup_id, static_cast<int>(outcome.tables.size()), rows, json,
		                   outcome.pre_restore_backup);
		return;
	}
	NewBackup backup;
	backup.tenant = job.tenant;
	backup.label = job.label;
	take_backup(backup);
	if (backup.rows == 0)
		notice_tenant_without_rows(backup.tenant, "backup " + std::to_string(backup.id) + " is empty");
	complete_async_job(job.id, backup.id, static_cast<int>(backup.tables.size()), static_cast<int64>(backup.rows),
	                   std::nullopt);
}

void run_async_job(int64 id, TransactionId submitter) {
	int pid = pg_eval([] { return MyProcPid; });
	std::optional<AsyncJob> job;
	bool role_exists = false;
	ErrorData *error = run_in_transaction("tenant_backup async job: waiting for its submission", [&] {
		// The job's row is committed, or never will be, once the submitting transaction has ended.
		pg_call([submitter] {
			if (TransactionIdIsValid(submitter))
				XactLockTableWait(submitter, nullptr, nullptr, XLTW_None);
		});
		if (!lock_extension_tables())
			throw SqlError(ERRCODE_LOCK_NOT_AVAILABLE, "the extension tenant_backup is being dropped or changed");
		job = claim_async_job(id, pid);
		if (job)
			role_exists = pg_eval([&] { return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(job->requested_by)); });
	});
	if (error) {
		std::string reason = take_error_message(error);
		log_warning("tenant_backup async job " + std::to_string(id) + ": " + reason);
		error = run_in_transaction("tenant_backup async job: recording its failure",
		                           [&] { fail_async_job(id, "could not start: " + reason); });
		if (error)
			log_warning("tenant_backup async job " + std::to_string(id) + ": " + take_error_message(error));
		return;
	}
	if (!job)
		return; // cancelled before it started, or its submission rolled back
	Oid session = pg_eval([] { return GetSessionUserId(); });
	std::string refusal = job->session_role != session ? "its worker logged in as another role than the job names"
	                      : !role_exists               ? "the role that submitted it no longer exists"
	                                                   : "";
	if (refusal.empty()) {
		// From here on the current user is the submitter's (the session user unless SET ROLE or a
		// SECURITY DEFINER function made it another), never more; each transaction starts and
		// aborts back to it. As in a SECURITY DEFINER function, SET ROLE and SET SESSION
		// AUTHORIZATION are refused meanwhile: code that runs during the work (a table owner's
		// defaults, CHECKs, index expressions) cannot become the session user it logged in as.
		Oid role = job->requested_by;
		pg_call([role] { SetUserIdAndSecContext(role, SECURITY_LOCAL_USERID_CHANGE); });
		const char *what = job->kind == "restore"   ? "tenant_backup async job: restoring"
		                   : job->kind == "preview" ? "tenant_backup async job: previewing a restore"
		                                            : "tenant_backup async job: backing up";
		error = run_in_transaction(what, [&] { do_job(*job); });
		if (!error)
			return;
		refusal = ShutdownRequestPending
		              ? std::string("terminated: its worker was stopped before it finished (pg_terminate_backend, "
		                            "tenant_backup.job_timeout or a server shutdown); nothing was ") +
		                    (job->kind == "backup" ? "backed up" : "restored")
		              : take_error_message(error);
		if (ShutdownRequestPending)
			pg_call([error] { FreeErrorData(error); });
	}
	error = run_in_transaction("tenant_backup async job: recording its failure", [&] { fail_async_job(id, refusal); });
	if (error)
		log_warning("tenant_backup async job " + std::to_string(id) +
		            ": could not record its failure: " + take_error_message(error));
}

// SIGTERM cancels what runs, as a query cancel does (an ERROR, not FATAL): the work rolls back and
// the worker records the job failed before it exits.
void handle_sigterm(SIGNAL_ARGS) {
	int saved_errno = errno;
	ShutdownRequestPending = true;
	InterruptPending = true;
	QueryCancelPending = true;
	SetLatch(MyLatch);
	errno = saved_errno;
}

} // namespace

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_async_job_main(Datum arg);

void tenant_backup_async_job_main(Datum) {
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, tb::pg::handle_sigterm);
	BackgroundWorkerUnblockSignals();
	unsigned int database = 0, submitter = 0, session = 0;
	long long id = 0;
	if (sscanf(MyBgworkerEntry->bgw_extra, "%u %lld %u %u", &database, &id, &submitter, &session) != 4)
		proc_exit(1);
	tb::pg::worker_connect(database, nullptr, tb::pg::kAsyncWorkerType, session);
	tb::pg::cpp_call([&] { tb::pg::run_async_job(id, submitter); });
	proc_exit(0);
}
