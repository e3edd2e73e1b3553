// A job worker: takes due tenants one after another. For each, one scheduled backup, committed
// with its outcome; then retention, in a transaction of its own, so that a failing retention never
// costs the backup just taken (it is logged, and applied again after the tenant's next backup). A
// failed backup is recorded in a transaction of its own (the backup's has been rolled back).
#include "core/error.hpp"
#include "pg/archive/backup_check.hpp"
#include "pg/archive/take_backup.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/repository/registry.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/ownership.hpp"
#include "pg/boundary/warnings.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/plancache.h"
}

#include <chrono>

namespace tb::pg {

namespace {

void log_error(ErrorData *error) {
	pg_call([error] {
		ereport(WARNING, (errmsg("tenant_backup job: %s", error->message)));
		FreeErrorData(error);
	});
}

struct RunCounts {
	int backed_up = 0, failed = 0, pruned = 0;
};

// One claimed tenant: its backup, committed with its outcome; then its retention. False when its
// failure could not be recorded: its claim stays, and the worker must not take another tenant
// (the scheduler finds the claim lost once the worker has exited, and records it; while the
// worker lives, the claim names the tenant it runs, which job_timeout ends).
bool run_job(const Claim &claim, RunCounts &counts) {
	const std::string &tenant = claim.tenant;
	int64_t backup_id = claim.backup_id;
	std::string backed_up; // the tenant as the backup recorded it (canonical form)
	ErrorData *error = run_in_transaction("tenant_backup job: backing up", [&] {
		if (!lock_extension_tables())
			throw SqlError(ERRCODE_LOCK_NOT_AVAILABLE, "the extension tenant_backup is being dropped or changed");
		NewBackup backup;
		backup.id = backup_id;
		backup.tenant = tenant;
		backup.kind = "auto";
		backup.label = "scheduled";
		backup.replaces_running_row = true;
		use_schedule_repositories(tenant); // the schedule's own repositories, for this transaction
		take_backup(backup);
		record_job_success(tenant, backup_id);
		backed_up = backup.tenant;
	});
	if (error) {
		counts.failed++;
		std::string reason = take_error_message(error);
		error = run_in_transaction("tenant_backup job: recording failure",
		                           [&] { record_job_failure(tenant, backup_id, reason); });
		if (error) {
			log_error(error);
			return false;
		}
		return true;
	}
	counts.backed_up++;
	if (setting_verify_new_backups()) {
		// Read back right away, as backup_verify reads it (issue 20): a copy that does not decode
		// is recorded failed (backup_status counts the tenant unprotected), logged and audited.
		error = run_in_transaction("tenant_backup job: verifying", [&] {
			std::optional<StoredBackup> stored = find_backup(backup_id, false);
			if (!stored)
				return;
			AuditedAction audit("verify", stored->tenant);
			audit.set_backup(backup_id);
			VerifyOutcome out = verify_backup(*stored);
			record_verify_outcome(backup_id, out);
			if (!out.ok)
				warn("tenant_backup: automatic backup " + std::to_string(backup_id) + " of tenant \"" + backed_up +
				     "\" failed its verification: " + out.error);
			audit.ok(out.ok ? "" : "verification failed: " + out.error);
		});
		if (error)
			warn("tenant_backup: verifying automatic backup " + std::to_string(backup_id) + " of tenant \"" +
			     backed_up + "\" failed: " + take_error_message(error));
	}
	error = run_in_transaction("tenant_backup job: retention", [&] {
		ScheduleSet schedules = load_schedules(tenant);
		if (const Schedule *schedule = schedules.for_tenant(tenant))
			counts.pruned += apply_retention(backed_up, *schedule, scheduler_now());
	});
	if (error) {
		warn("tenant_backup: retention of tenant \"" + backed_up + "\" failed after its backup " +
		         std::to_string(backup_id) + ": " + take_error_message(error),
		     "It is applied again after the next backup.");
	}
	return true;
}

// Takes due tenants one after another until none is left, each claimed in a transaction of its
// own before its backup starts: a failure is recorded for its tenant and the next one is taken; a
// crash or termination leaves only the tenant being backed up claimed (the scheduler records it
// interrupted). Logs one summary line at the end, unless every backup is logged.
void run_jobs() {
	RunCounts counts;
	bool log_each = setting_log_scheduled_backups();
	set_audit_log_lines(log_each);
	int pid = pg_eval([] { return MyProcPid; });
	auto started = std::chrono::steady_clock::now();
	auto last_replan = started;
	while (!pg_eval([] { return static_cast<bool>(ShutdownRequestPending); })) {
		pg_call([] {
			if (ConfigReloadPending) {
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
		});
		std::optional<Claim> claim;
		ErrorData *error = run_in_transaction("tenant_backup job: claiming", [&] {
			if (lock_extension_tables()) // otherwise being dropped or changed: stop
				claim = claim_next_job(pid, scheduler_now());
		});
		if (error)
			return log_error(error);
		if (!claim)
			break;
		if (!run_job(*claim, counts))
			break; // its claim stays: the scheduler records it once this worker has exited
		// Plans cached at the first tenants (the catalog's foreign-key checks among them) were made
		// for tables that were small then; nothing invalidates them until an ANALYZE, so a worker
		// taking tenants for an hour would keep scanning a catalog grown by every backup. Planned
		// afresh every 30 s.
		auto now = std::chrono::steady_clock::now();
		if (now - last_replan >= std::chrono::seconds(30)) {
			pg_call([] { ResetPlanCache(); });
			last_replan = now;
		}
	}
	if (log_each || counts.backed_up + counts.failed == 0)
		return;
	double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
	std::string line = "tenant_backup job: " + std::to_string(counts.backed_up) + " scheduled backups taken, " +
	                   std::to_string(counts.failed) + " failed, " + std::to_string(counts.pruned) +
	                   " deleted by retention, in " + std::to_string(static_cast<int64_t>(seconds)) + " s";
	const char *l = line.c_str();
	pg_call([l] { ereport(LOG, (errmsg("%s", l))); });
}

} // namespace

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_job_main(Datum arg);

void tenant_backup_job_main(Datum) {
	tb::pg::worker_signals();
	Oid database = static_cast<Oid>(strtoul(MyBgworkerEntry->bgw_extra, nullptr, 10));
	tb::pg::worker_connect(database, nullptr, "tenant_backup job");
	tb::pg::cpp_call([] {
		tb::pg::cache_ownership_in_this_process();
		tb::pg::keep_query_plans();
		tb::pg::run_jobs();
	});
	proc_exit(0);
}
