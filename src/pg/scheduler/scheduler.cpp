// The per-database scheduler worker: claims due tenants and starts a job worker for each.
#include "pg/scheduler/scheduler.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/scheduler/periodic_sync.hpp"
#include "pg/shared_memory/scheduler_registry.hpp"
#include "pg/scheduler/throttled_warning.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/shared_memory/audit_queue.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"

extern "C" {
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace tb::pg {

namespace {

constexpr int64_t kDiscoveryInterval = 600; // new tenants are found within ten minutes
constexpr int64_t kDiscoveryRetry = 60;     // after a failed discovery
constexpr int32 kSchedulerLockClass = 0x54425553;
const char *const kInterrupted =
    "interrupted: the backup's worker exited before finishing (crash, termination or server restart)";

std::map<int64_t, BackgroundWorkerHandle *> job_handles; // the jobs this scheduler started
bool discovery_due = true;
int64_t last_discovery = 0;
std::string last_schedules_fingerprint;
bool extension_ready = false; // seen installed by the last pass

bool extension_installed() {
	return pg_eval([] { return OidIsValid(get_extension_oid("tenant_backup", true)); });
}

// Job ids whose worker (started by this scheduler) has exited. Checked before the catalog is
// read, so a job that committed its outcome and then exited is seen as finished, not as lost.
std::set<int64_t> stopped_jobs() {
	std::set<int64_t> stopped;
	for (const auto &[id, handle] : job_handles) {
		pid_t pid;
		BgwHandleStatus status = pg_eval([&, h = handle] { return GetBackgroundWorkerPid(h, &pid); });
		if (status != BGWH_STARTED && status != BGWH_NOT_YET_STARTED)
			stopped.insert(id);
	}
	return stopped;
}

void forget_jobs(const std::set<int64_t> &ids) {
	for (int64_t id : ids) {
		BackgroundWorkerHandle *handle = job_handles.at(id);
		pg_call([handle] { pfree(handle); });
		job_handles.erase(id);
	}
}

// Records a job failed in a subtransaction of its own: one that cannot be recorded is logged and
// tried again at the next pass, and the others are recorded meanwhile.
void fail_job(const std::string &tenant, int64_t backup_id, const std::string &reason) {
	if (auto error = try_in_subtransaction([&] { record_job_failure(tenant, backup_id, reason); }))
		warn_throttled("tenant_backup scheduler: could not record the failure of scheduled backup " +
		               std::to_string(backup_id) + ": " + *error);
}

// Ends a job that ran past tenant_backup.job_timeout: its worker gets SIGTERM (and, like any
// terminated backup, rolls back; its temporary files go with the next sweep).
void terminate_job(const RunningJob &job) {
	auto it = job_handles.find(job.backup_id);
	if (it != job_handles.end()) {
		BackgroundWorkerHandle *handle = it->second;
		pg_call([handle] { TerminateBackgroundWorker(handle); });
	} else if (job.worker_alive) { // an earlier scheduler's, whose pid is a job worker of ours
		spi_query("SELECT pg_terminate_backend($1::int)", {std::to_string(job.pid)});
	}
}

// Marks jobs whose worker is gone as failed, and ends those that ran too long (each failure
// schedules a retry).
void reap_lost_jobs() {
	std::set<int64_t> stopped = stopped_jobs();
	int timeout = setting_job_timeout();
	for (const auto &job : running_jobs()) {
		bool ours = job_handles.count(job.backup_id) > 0;
		// Not ours: started by an earlier scheduler (before a restart); ask the process table.
		bool lost = ours ? stopped.count(job.backup_id) > 0 : !job.worker_alive;
		if (lost) {
			fail_job(job.tenant, job.backup_id, kInterrupted);
		} else if (timeout > 0 && job.running_seconds > timeout) {
			terminate_job(job);
			fail_job(job.tenant, job.backup_id,
			         "timed out: running for longer than tenant_backup.job_timeout (" + std::to_string(timeout) +
			             " s), its worker was terminated");
		}
	}
	for (int64_t id : unclaimed_running_backups())
		fail_job("", id, kInterrupted);
	forget_jobs(stopped); // reaped now, or (not recorded) found by the process table next time
}

std::string fingerprint(const ScheduleSet &schedules) {
	std::string out = schedules.fallback ? schedules.fallback->key() : "-";
	for (const auto &[tenant, s] : schedules.per_tenant)
		out += "\n" + tenant + "=" + s.key();
	for (const auto &problem : schedules.problems)
		out += "\n" + problem;
	return out;
}

// The tenants to schedule, if discovery is due. When it fails (a registry that does not resolve,
// a tenant table that cannot be read), the tenants known so far keep their state and only those
// with a schedule of their own are added; it is tried again in a minute.
void discover(const ScheduleSet &schedules, int64_t real_now, std::vector<std::string> &tenants, bool &complete) {
	std::optional<std::string> error = try_in_subtransaction([&] { tenants = scheduled_tenants(schedules); });
	complete = !error;
	last_discovery = real_now;
	if (error) {
		warn_throttled("tenant_backup scheduler: could not find the tenants: " + *error,
		               "The tenants found before keep their schedules; tenant_backup.tenant_registry or the "
		               "tenant tables need fixing.");
		tenants = own_schedule_tenants(schedules);
		last_discovery = real_now - kDiscoveryInterval + kDiscoveryRetry;
	}
}

// One pass, in a transaction. Returns the claims to start once it has committed. Reaping and
// discovery run in subtransactions, and a schedule row that no longer parses is skipped, so one
// bad input never stops the other tenants' backups.
std::vector<Claim> tick(int64_t &sleep_seconds) {
	sleep_seconds = setting_scheduler_naptime();
	extension_ready = extension_installed();
	if (!extension_ready)
		return {};
	if (auto error = try_in_subtransaction([] { reap_lost_jobs(); }))
		warn_throttled("tenant_backup scheduler: could not check the running backups: " + *error);
	int64_t now = scheduler_now();
	ScheduleSet schedules = load_schedules();
	for (const auto &problem : schedules.problems)
		warn_throttled(problem, "Set the schedule again with tenant_backup.backup_schedule_set (or remove it).");
	std::string print = fingerprint(schedules);
	int64_t real_now = now - setting_clock_offset();
	bool discover_now =
	    discovery_due || print != last_schedules_fingerprint || real_now - last_discovery >= kDiscoveryInterval;
	std::vector<std::string> tenants;
	bool complete = false;
	if (discover_now) {
		discover(schedules, real_now, tenants, complete);
		discovery_due = false;
		last_schedules_fingerprint = print;
	}
	refresh_schedule_state(schedules, discover_now ? &tenants : nullptr, complete, now);
	int running = static_cast<int>(running_jobs().size());
	std::vector<Claim> claims = claim_due_jobs(setting_max_parallel() - running, now);
	if (std::optional<int64_t> next = earliest_next_run())
		sleep_seconds = std::clamp<int64_t>(*next - now, 1, sleep_seconds);
	return claims;
}

// Starts a job worker per claim. A claim that gets no worker (every max_worker_processes slot in
// use) is given back, not failed: the tenant is claimed again at a later pass. Returns whether
// every job started.
bool launch(const std::vector<Claim> &claims) {
	std::vector<Claim> unstarted;
	Oid db = pg_eval([] { return MyDatabaseId; });
	for (const auto &claim : claims) {
		std::string extra = std::to_string(db) + " " + std::to_string(claim.backup_id);
		BackgroundWorkerHandle *handle =
		    pg_eval([&] { return start_worker("tenant_backup_job_main", "tenant_backup job", extra, 0, true); });
		if (handle)
			job_handles[claim.backup_id] = handle;
		else
			unstarted.push_back(claim);
	}
	if (unstarted.empty())
		return true;
	ErrorData *error = run_in_transaction("tenant_backup scheduler: giving back unstarted jobs", [&] {
		for (const auto &claim : unstarted)
			release_claim(claim);
	});
	if (error) // the claims stay, and are reaped as lost at the next pass
		pg_call([error] {
			ereport(WARNING, (errmsg("tenant_backup scheduler: %s", error->message)));
			FreeErrorData(error);
		});
	int slots = pg_eval([] { return max_worker_processes; });
	warn_throttled("tenant_backup scheduler: could not start a background worker for a scheduled backup; it "
	               "is tried again later",
	               "Every background worker slot is in use: raise max_worker_processes (now " + std::to_string(slots) +
	                   ").");
	return false;
}

// A tick and the launches; returns how long to sleep, in milliseconds.
long run_once() {
	int64_t sleep_seconds = setting_scheduler_naptime();
	std::vector<Claim> claims;
	// What a pass that fails forgets: its discovery was rolled back with it.
	auto discovery = std::make_tuple(discovery_due, last_discovery, last_schedules_fingerprint);
	ErrorData *error = run_in_transaction("tenant_backup scheduler", [&] { claims = tick(sleep_seconds); });
	bool pass_ok = !error;
	if (error) {
		claims.clear();
		std::tie(discovery_due, last_discovery, last_schedules_fingerprint) = discovery;
		std::string message = std::string("tenant_backup scheduler: ") + (error->message ? error->message : "error");
		if (error->detail)
			message += " (" + std::string(error->detail) + ")";
		pg_call([error] { FreeErrorData(error); });
		warn_throttled(message);
	}
	if (!launch(claims)) // no free worker slot: not again before the naptime
		sleep_seconds = setting_scheduler_naptime();
	if (extension_ready && pass_ok)
		sleep_seconds = std::min(sleep_seconds, std::max<int64_t>(start_sync_if_due(), 1));
	return static_cast<long>(sleep_seconds) * 1000L;
}

bool take_scheduler_lock() {
	bool locked = false;
	ErrorData *error = run_in_transaction("tenant_backup scheduler: start", [&] {
		auto rows = spi_query("SELECT pg_try_advisory_lock($1::int, 0)", {std::to_string(kSchedulerLockClass)});
		locked = rows.at(0)[0] == std::optional<std::string>("t");
	});
	if (error)
		pg_call([error] { ReThrowError(error); });
	return locked;
}

} // namespace

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_scheduler_main(Datum arg);

void tenant_backup_scheduler_main(Datum) {
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	char database[BGW_EXTRALEN];
	strlcpy(database, MyBgworkerEntry->bgw_extra, sizeof(database));
	BackgroundWorkerInitializeConnection(database, nullptr, 0);
	tb::pg::pin_worker_search_path();
	pgstat_report_appname("tenant_backup scheduler");
	bool locked = false;
	tb::pg::cpp_call([&] { locked = tb::pg::take_scheduler_lock(); });
	if (!locked) {
		ereport(DEBUG1, (errmsg("tenant_backup: another scheduler already serves database \"%s\"", database)));
		proc_exit(0);
	}
	tb::pg::register_scheduler(database); // for a launcher restarted meanwhile
	tb::pg::register_audit_drainer();     // audit events of this database are queued for us
	ereport(LOG, (errmsg("tenant_backup scheduler started for database \"%s\"", database)));
	while (!ShutdownRequestPending) {
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			tb::pg::discovery_due = true;
		}
		// Queued audit events set our latch: they are written first, then the pass runs as ever.
		tb::pg::cpp_call([] { tb::pg::drain_audit_queue(); });
		long sleep_ms = 0;
		tb::pg::cpp_call([&] { sleep_ms = tb::pg::run_once(); });
		if (ShutdownRequestPending)
			break;
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	tb::pg::cpp_call([] { tb::pg::drain_audit_queue(); }); // the last events before we go
	ereport(LOG, (errmsg("tenant_backup scheduler of database \"%s\" stopping", database)));
	proc_exit(0);
}
