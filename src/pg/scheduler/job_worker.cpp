// A job worker: one scheduled backup of one tenant, committed with its outcome; then retention,
// in a transaction of its own, so that a failing retention never costs the backup just taken
// (it is logged, and applied again after the tenant's next backup). A failed backup is recorded
// in a transaction of its own (the backup's has been rolled back).
#include "pg/archive/take_backup.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/repository/registry.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/warnings.hpp"

extern "C" {
#include "pgstat.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
}

namespace tb::pg {

namespace {

void log_error(ErrorData *error) {
	pg_call([error] {
		ereport(WARNING, (errmsg("tenant_backup job: %s", error->message)));
		FreeErrorData(error);
	});
}

std::string message_of(ErrorData *error) {
	std::string message = error->message ? error->message : "unknown error";
	if (error->detail)
		message += " (" + std::string(error->detail) + ")";
	pg_call([error] { FreeErrorData(error); });
	return message;
}

void run_job(int64_t backup_id) {
	std::optional<std::string> claimed;
	ErrorData *error = run_in_transaction("tenant_backup job: starting", [&] {
		claimed = record_job_started(backup_id, pg_eval([] { return MyProcPid; }));
	});
	if (error)
		return log_error(error);
	if (!claimed) { // recorded as failed meanwhile: a whole backup would be thrown away at its end
		pg_call([backup_id] {
			ereport(LOG, (errmsg("tenant_backup job: scheduled backup %lld is no longer claimed; not taken",
			                     static_cast<long long>(backup_id))));
		});
		return;
	}
	std::string tenant = *claimed;
	std::string backed_up; // the tenant as the backup recorded it (canonical form)
	error = run_in_transaction("tenant_backup job: backing up", [&] {
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
		std::string reason = message_of(error);
		error = run_in_transaction("tenant_backup job: recording failure",
		                           [&] { record_job_failure(tenant, backup_id, reason); });
		if (error)
			log_error(error);
		return;
	}
	error = run_in_transaction("tenant_backup job: retention", [&] {
		ScheduleSet schedules = load_schedules();
		if (const Schedule *schedule = schedules.for_tenant(tenant))
			apply_retention(backed_up, *schedule, scheduler_now());
	});
	if (error) {
		warn("tenant_backup: retention of tenant \"" + backed_up + "\" failed after its backup " +
		         std::to_string(backup_id) + ": " + message_of(error),
		     "It is applied again after the next backup.");
	}
}

} // namespace

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_job_main(Datum arg);

void tenant_backup_job_main(Datum) {
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	unsigned int database = 0;
	long long backup_id = 0;
	if (sscanf(MyBgworkerEntry->bgw_extra, "%u %lld", &database, &backup_id) != 2)
		ereport(ERROR, (errmsg("tenant_backup job: bad worker argument \"%s\"", MyBgworkerEntry->bgw_extra)));
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	tb::pg::pin_worker_search_path();
	pgstat_report_appname("tenant_backup job");
	tb::pg::cpp_call([&] { tb::pg::run_job(backup_id); });
	proc_exit(0);
}
