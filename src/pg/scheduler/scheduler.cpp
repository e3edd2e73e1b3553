// The per-database scheduler worker: claims due tenants and starts a job worker for each.
#include "pg/scheduler/scheduler.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/scheduler/async_jobs.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/scheduler/periodic_checks.hpp"
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
#include "storage/lmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <tuple>

namespace tb::pg {

namespace {

constexpr int64_t kDiscoveryInterval = 600; // new tenants are found within ten minutes
constexpr int64_t kDiscoveryRetry = 60;     // after a failed discovery
constexpr int32 kSchedulerLockClass = 0x54425553;
constexpr int kAuditBatch = 1000;
constexpr int kAuditBatches = 10;
constexpr size_t kUpkeepBatch = 5000; // tenants per transaction of the upkeep
const char *const kInterrupted =
    "interrupted: the backup's worker exited before finishing (crash, termination or server restart)";

std::vector<BackgroundWorkerHandle *> job_workers; // the job workers this scheduler started
bool discovery_due = true;
int64_t last_discovery = 0;
std::string last_schedules_fingerprint;
// Jobs that were running when the schedules last changed: each may still record a next run made
// under the old schedule, so next runs are recomputed at every pass until they are all done.
std::set<int64_t> jobs_under_old_schedules;
bool extension_ready = false;  // seen installed by the last pass
bool extension_absent = false; // not installed, at the last pass
int64_t last_audit_pruning = 0;
int64_t last_pre_restore_expiry = 0;
bool clock_offset_seen = false; // the clock offset of the last pass, once there was one
int last_clock_offset = 0;

bool extension_installed() {
	return pg_eval([] { return OidIsValid(get_extension_oid("tenant_backup", true)); });
}

// Records a job failed in a subtransaction of its own: one that cannot be recorded is logged and
// tried again at the next pass, and the others are recorded meanwhile.
void fail_job(const std::string &tenant, int64_t backup_id, const std::string &reason) {
	if (auto error = try_in_subtransaction([&] { record_job_failure(tenant, backup_id, reason); }))
		warn_throttled("tenant_backup scheduler: could not record the failure of scheduled backup " +
		               std::to_string(backup_id) + ": " + *error);
}

// Jobs whose worker is gone are marked failed, those that ran too long are ended (each failure
// schedules a retry). Returns the job workers of this database.
std::vector<int> reap_lost_jobs() {
	int timeout = setting_job_timeout();
	RunningJobs running = running_jobs();
	for (const auto &job : running.jobs) {
		if (!job.worker_alive) {
			fail_job(job.tenant, job.backup_id, kInterrupted);
		} else if (timeout > 0 && job.running_seconds > timeout) {
			// Its worker gets SIGTERM (and, like any terminated backup, rolls back; its temporary
			// files go with the next sweep); the tenants it would have taken next are taken by
			// another worker. Only while it still runs this job, its claim locked: a job that
			// ended meanwhile is left to the next pass, and its worker's next tenant is not ended.
			if (!lock_running_job(job))
				continue;
			spi_query("SELECT pg_terminate_backend($1::int)", {std::to_string(job.pid)});
			fail_job(job.tenant, job.backup_id,
			         "timed out: running for longer than tenant_backup.job_timeout (" + std::to_string(timeout) +
			             " s), its worker was terminated");
		}
	}
	for (int64_t id : unclaimed_running_backups())
		fail_job("", id, kInterrupted);
	// Asynchronous restores and backups (backup_jobs) whose worker is gone, or ran too long.
	if (auto error = try_in_subtransaction([] { reap_lost_async_jobs(true); }))
		warn_throttled("tenant_backup scheduler: could not check the asynchronous jobs: " + *error);
	std::set<int64_t> still_running;
	for (const auto &job : running.jobs)
		if (jobs_under_old_schedules.count(job.backup_id))
			still_running.insert(job.backup_id);
	jobs_under_old_schedules = std::move(still_running);
	return running.worker_pids;
}

// Job workers started by this scheduler that are not (yet) among `live`: starting up. Forgets
// the ones that have exited.
int starting_job_workers(const std::vector<int> &live) {
	int starting = 0;
	for (const StartedWorker &worker : forget_stopped_workers(job_workers))
		if (worker.status == BGWH_NOT_YET_STARTED || std::find(live.begin(), live.end(), worker.pid) == live.end())
			starting++;
	return starting;
}

std::string fingerprint(const ScheduleSet &schedules) {
	std::string out = schedules.fallback ? schedules.fallback->key() : "-";
	for (const auto &[tenant, s] : schedules.per_tenant)
		out += "\n" + tenant + "=" + s.key();
	for (const auto &problem : schedules.problems)
		out += "\n" + problem;
	return out;
}

// What a pass does outside its first transaction, in short transactions of its own: discovery
// (when due), then the state rows of the tenants found, and a pass over the idle tenants' state
// rows that drops those of tenants no longer found and recomputes next runs.
struct Upkeep {
	ScheduleSet schedules;
	bool discover = false;
	Recompute recompute = Recompute::None;
	int64_t now = 0, real_now = 0;
};

// One pass's first transaction: the running jobs, the schedules, and what the pass must keep up
// (`upkeep`). A few index probes. Reaping runs in a subtransaction, and a schedule row that no
// longer parses is skipped, so one bad input never stops the other tenants' backups. Returns
// whether the running jobs are known (reaped); `workers` are the live job workers.
bool tick_begin(Upkeep &upkeep, std::vector<int> &workers, int64_t &sleep_seconds) {
	extension_ready = extension_installed();
	extension_absent = !extension_ready;
	if (!extension_ready)
		return false;
	if (!lock_extension_tables()) { // being dropped or created right now
		extension_ready = false;
		sleep_seconds = 1;
		return false;
	}
	bool reaped = false;
	if (auto error = try_in_subtransaction([&] {
		    workers = reap_lost_jobs();
		    reaped = true;
	    }))
		warn_throttled("tenant_backup scheduler: could not check the running backups: " + *error);
	upkeep.now = scheduler_now();
	upkeep.schedules = load_schedules();
	for (const auto &problem : upkeep.schedules.problems)
		warn_throttled(problem, "Set the schedule again with tenant_backup.backup_schedule_set (or remove it).");
	std::string print = fingerprint(upkeep.schedules);
	upkeep.real_now = upkeep.now - setting_clock_offset();
	bool changed = print != last_schedules_fingerprint;
	upkeep.discover = discovery_due || changed || upkeep.real_now - last_discovery >= kDiscoveryInterval;
	if (upkeep.discover) {
		discovery_due = false;
		last_schedules_fingerprint = print;
	}
	if (changed && reaped) // (not reaped: every job is treated as one under the old schedules)
		for (const auto &job : running_jobs().jobs)
			jobs_under_old_schedules.insert(job.backup_id);
	// A reload that moves the test clock (tenant_backup.scheduler_clock_offset) moves every next
	// run: they were computed on the old clock. (Not at start-up: a run missed meanwhile stays due.)
	bool clock_moved = clock_offset_seen && setting_clock_offset() != last_clock_offset;
	clock_offset_seen = true;
	last_clock_offset = setting_clock_offset();
	upkeep.recompute = clock_moved                                                       ? Recompute::All
	                   : upkeep.discover || !jobs_under_old_schedules.empty() || !reaped ? Recompute::Changed
	                                                                                     : Recompute::None;
	return reaped;
}

// The upkeep's transactions, timed for its log line.
struct UpkeepLog {
	int transactions = 0;
	double longest = 0;
	StateChanges changes;
	template <typename F> ErrorData *run(const char *what, F &&fn) {
		auto start = std::chrono::steady_clock::now();
		ErrorData *error = run_in_transaction(what, std::forward<F>(fn));
		transactions++;
		longest = std::max(longest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
		return error;
	}
};

bool shutdown_requested() {
	return pg_eval([] { return static_cast<bool>(ShutdownRequestPending); });
}

// A transaction of the upkeep; false ends the upkeep (a failure is logged; the upkeep is done
// again at the next pass, see run_once).
bool upkeep_step(UpkeepLog &log, const char *what, const std::function<void()> &fn) {
	bool locked = false;
	ErrorData *error = log.run(what, [&] {
		locked = lock_extension_tables();
		if (locked)
			fn();
	});
	if (!error)
		return locked && !shutdown_requested();
	std::string message = std::string("tenant_backup scheduler: ") + (error->message ? error->message : "error");
	pg_call([error] { FreeErrorData(error); });
	warn_throttled(message);
	return false;
}

// The upkeep, in transactions of at most kUpkeepBatch tenants each (so that none of the scheduler's
// transactions grows with the tenants, nor holds back VACUUM for long). When discovery fails (a
// registry that does not resolve, a tenant table that cannot be read), the tenants known so far
// keep their state and only those with a schedule of their own are added; it is tried again in a
// minute. Returns false if a transaction failed or was not run (then the upkeep is redone at
// the next pass). One LOG line when it changed something (DEBUG1 otherwise): what, and in how
// many transactions.
bool keep_up(Upkeep &upkeep) {
	UpkeepLog log;
	std::vector<std::string> tenants;
	bool complete = false;
	if (upkeep.discover) {
		last_discovery = upkeep.real_now;
		TenantDiscovery discovery(upkeep.schedules);
		bool more = true, locked = true;
		std::optional<std::string> failed;
		while (more && !failed) {
			ErrorData *error = log.run("tenant_backup scheduler: finding the tenants", [&] {
				locked = lock_extension_tables();
				if (locked)
					more = discovery.step();
			});
			if (error) {
				failed = error->message ? error->message : "error";
				pg_call([error] { FreeErrorData(error); });
			} else if (!locked || shutdown_requested()) {
				return false;
			}
		}
		complete = !failed;
		if (failed) {
			warn_throttled("tenant_backup scheduler: could not find the tenants: " + *failed,
			               "The tenants found before keep their schedules; tenant_backup.tenant_registry or the "
			               "tenant tables need fixing.");
			tenants = own_schedule_tenants(upkeep.schedules);
			last_discovery = upkeep.real_now - kDiscoveryInterval + kDiscoveryRetry;
		} else {
			tenants = discovery.tenants();
		}
		for (size_t at = 0; at < tenants.size(); at += kUpkeepBatch) {
			std::vector<std::string> batch(tenants.begin() + at,
			                               tenants.begin() + std::min(tenants.size(), at + kUpkeepBatch));
			if (!upkeep_step(log, "tenant_backup scheduler: adding tenants",
			                 [&] { add_schedule_states(batch, log.changes); }))
				return false;
		}
	}
	const std::vector<std::string> *keep = complete ? &tenants : nullptr; // sorted
	if (keep || upkeep.recompute != Recompute::None) {
		std::optional<std::string> after;
		do {
			if (!upkeep_step(log, "tenant_backup scheduler: next runs", [&] {
				    after = refresh_schedule_states(upkeep.schedules, keep, upkeep.recompute, upkeep.now, after,
				                                    kUpkeepBatch, log.changes);
			    }))
				return false;
		} while (after);
	}
	if (log.transactions == 0)
		return true;
	const StateChanges &c = log.changes;
	char line[300];
	snprintf(line, sizeof(line),
	         "tenant_backup scheduler: %s%d tenants added, %d dropped, %d next runs computed, in %d transactions "
	         "(the longest %.2f s)",
	         upkeep.discover ? (std::to_string(tenants.size()) + " tenants found, ").c_str() : "", c.added, c.dropped,
	         c.computed, log.transactions, log.longest);
	int level = c.added + c.dropped + c.computed > 0 ? LOG : DEBUG1;
	pg_call([level, &line] { ereport(level, (errmsg("%s", line))); });
	return true;
}

// The pass's last transaction: how many job workers to start (once it has committed), and when
// to wake next.
int tick_end(bool reaped, const std::vector<int> &workers, int64_t now, int64_t &sleep_seconds) {
	if (!lock_extension_tables()) {
		sleep_seconds = 1;
		return 0;
	}
	if (std::optional<int64_t> next = earliest_next_run())
		sleep_seconds = std::clamp<int64_t>(*next - now, 1, sleep_seconds);
	if (!reaped)
		return 0; // the workers running are not known: none started
	int free_slots = setting_max_parallel() - static_cast<int>(workers.size()) - starting_job_workers(workers);
	return due_tenants(free_slots, now);
}

// Starts `count` job workers, each of which takes due tenants one after another until none is
// left. One that gets no worker slot (every max_worker_processes slot in use) is tried again at a
// later pass; nothing was claimed for it. Returns whether every worker started.
bool launch(int count) {
	Oid db = pg_eval([] { return MyDatabaseId; });
	for (int i = 0; i < count; i++) {
		BackgroundWorkerHandle *handle = pg_eval(
		    [&] { return start_worker("tenant_backup_job_main", "tenant_backup job", std::to_string(db), 0, true); });
		if (!handle) {
			int slots = pg_eval([] { return max_worker_processes; });
			warn_throttled("tenant_backup scheduler: could not start a background worker for a scheduled backup; "
			               "it is tried again later",
			               "Every background worker slot is in use: raise max_worker_processes (now " +
			                   std::to_string(slots) + ").");
			return false;
		}
		job_workers.push_back(handle);
	}
	return true;
}

// Deletes audit rows older than tenant_backup.audit_retention, a batch of kAuditBatch rows per
// transaction, at most kAuditBatches batches a minute (so that a first pruning of a large trail
// never holds one long transaction).
void prune_audit() {
	int days = setting_audit_retention();
	int64_t now = pg_eval([] { return static_cast<int64_t>(timestamptz_to_time_t(GetCurrentTimestamp())); });
	if (days <= 0 || now - last_audit_pruning < 60)
		return;
	last_audit_pruning = now;
	for (int batch = 0; batch < kAuditBatches; batch++) {
		uint64 deleted = 0;
		ErrorData *error = run_in_transaction("tenant_backup scheduler: pruning the audit trail", [&] {
			if (!lock_extension_tables())
				return;
			deleted = spi_query("DELETE FROM tenant_backup.backup_audit WHERE id IN (SELECT id FROM "
			                    "tenant_backup.backup_audit WHERE at < now() - make_interval(days => $1::int) "
			                    "ORDER BY at LIMIT $2::int) RETURNING 1",
			                    {std::to_string(days), std::to_string(kAuditBatch)})
			              .size();
		});
		if (error) {
			std::string message = std::string("tenant_backup scheduler: could not prune the audit trail: ") +
			                      (error->message ? error->message : "error");
			pg_call([error] { FreeErrorData(error); });
			return warn_throttled(message);
		}
		if (deleted < static_cast<uint64>(kAuditBatch))
			return;
	}
}

// Deletes pre_restore backups older than tenant_backup.pre_restore_retention days (issue 21), a
// batch per transaction, once a minute.
void expire_pre_restore() {
	int days = setting_pre_restore_retention();
	int64_t now = pg_eval([] { return static_cast<int64_t>(timestamptz_to_time_t(GetCurrentTimestamp())); });
	if (days <= 0 || now - last_pre_restore_expiry < 60)
		return;
	last_pre_restore_expiry = now;
	ErrorData *error = run_in_transaction("tenant_backup scheduler: expiring pre_restore backups", [&] {
		if (!lock_extension_tables())
			return;
		expire_pre_restore_backups(days, 100);
	});
	if (error) {
		std::string message = std::string("tenant_backup scheduler: could not expire pre_restore backups: ") +
		                      (error->message ? error->message : "error");
		pg_call([error] { FreeErrorData(error); });
		warn_throttled(message);
	}
}

// A pass and the launches; returns how long to sleep, in milliseconds.
long run_once() {
	int64_t sleep_seconds = setting_scheduler_naptime();
	int workers = 0;
	// What a pass that fails forgets: its discovery and recomputed next runs are done again.
	auto discovery = std::make_tuple(discovery_due, last_discovery, last_schedules_fingerprint, clock_offset_seen,
	                                 last_clock_offset);
	auto forget = [&] {
		std::tie(discovery_due, last_discovery, last_schedules_fingerprint, clock_offset_seen, last_clock_offset) =
		    discovery;
	};
	Upkeep upkeep;
	std::vector<int> live;
	bool reaped = false;
	// Most passes have no upkeep: then the whole pass is this one transaction.
	bool ended = false;
	ErrorData *error = run_in_transaction("tenant_backup scheduler", [&] {
		reaped = tick_begin(upkeep, live, sleep_seconds);
		if (extension_ready && !upkeep.discover && upkeep.recompute == Recompute::None) {
			workers = tick_end(reaped, live, upkeep.now, sleep_seconds);
			ended = true;
		}
	});
	bool pass_ok = !error && extension_ready;
	if (error) {
		forget();
		ended = false;
		workers = 0;
		std::string message = std::string("tenant_backup scheduler: ") + (error->message ? error->message : "error");
		if (error->detail)
			message += " (" + std::string(error->detail) + ")";
		pg_call([error] { FreeErrorData(error); });
		warn_throttled(message);
	}
	if (pass_ok && !ended && !keep_up(upkeep)) {
		forget();
		discovery_due = upkeep.discover || discovery_due;
		pass_ok = false;
	}
	if (pass_ok && !ended) {
		error = run_in_transaction("tenant_backup scheduler",
		                           [&] { workers = tick_end(reaped, live, upkeep.now, sleep_seconds); });
		if (error) {
			workers = 0;
			pass_ok = false;
			std::string message =
			    std::string("tenant_backup scheduler: ") + (error->message ? error->message : "error");
			pg_call([error] { FreeErrorData(error); });
			warn_throttled(message);
		}
	}
	if (!launch(workers)) // no free worker slot: not again before the naptime
		sleep_seconds = setting_scheduler_naptime();
	if (extension_ready && pass_ok) {
		prune_audit();
		expire_pre_restore();
		sleep_seconds = std::min(sleep_seconds, std::max<int64_t>(start_sync_if_due(), 1));
		sleep_seconds = std::min(sleep_seconds, std::max<int64_t>(start_checks_if_due(), 1));
	}
	return static_cast<long>(sleep_seconds) * 1000L;
}

// With tenant_backup.databases = '*', a database without the extension is not served: its
// scheduler exits (the launcher looks again when asked, or after a while).
bool extension_here() {
	bool found = false;
	ErrorData *error = run_in_transaction("tenant_backup scheduler: start", [&] { found = extension_installed(); });
	if (error)
		pg_call([error] { ReThrowError(error); });
	return found;
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
	tb::pg::worker_signals();
	char database[BGW_EXTRALEN];
	strlcpy(database, MyBgworkerEntry->bgw_extra, sizeof(database));
	tb::pg::worker_connect(InvalidOid, database, "tenant_backup scheduler");
	bool here = true;
	if (tb::pg::setting_all_databases())
		tb::pg::cpp_call([&] { here = tb::pg::extension_here(); });
	if (!here) {
		ereport(DEBUG1, (errmsg("tenant_backup: no extension in database \"%s\": no scheduler", database)));
		proc_exit(0);
	}
	bool locked = false;
	tb::pg::cpp_call([&] { locked = tb::pg::take_scheduler_lock(); });
	if (!locked) {
		ereport(DEBUG1, (errmsg("tenant_backup: another scheduler already serves database \"%s\"", database)));
		proc_exit(0);
	}
	tb::pg::register_scheduler(database); // for a launcher restarted meanwhile
	tb::pg::register_audit_drainer();     // audit events of this database are queued for us
	ereport(LOG, (errmsg("tenant_backup scheduler started for database \"%s\"", database)));
	// A SIGTERM ends a pass at once, whatever SQL it runs (worker_signals): the pass's transaction
	// aborts, and what it has not committed it never did. Writing queued audit events is not cut
	// short (interrupts held): those events have left their queue.
	while (!ShutdownRequestPending) {
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			tb::pg::discovery_due = true;
			tb::pg::check_states_due();
		}
		// Queued audit events set our latch: they are written first, then the pass runs as ever.
		HOLD_INTERRUPTS();
		tb::pg::cpp_call([] { tb::pg::drain_audit_queue(); });
		RESUME_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		long sleep_ms = 0;
		tb::pg::cpp_call([&] { sleep_ms = tb::pg::run_once(); });
		if (ShutdownRequestPending)
			break;
		if (tb::pg::extension_absent && tb::pg::setting_all_databases()) {
			// DROP EXTENSION: with '*', the database is no longer served (the launcher starts a
			// scheduler again when the extension is created)
			ereport(LOG, (errmsg("tenant_backup scheduler of database \"%s\": the extension was dropped", database)));
			break;
		}
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (!ShutdownRequestPending)
			CHECK_FOR_INTERRUPTS();
	}
	HOLD_INTERRUPTS();
	tb::pg::cpp_call([] { tb::pg::drain_audit_queue(); }); // the last events before we go
	ereport(LOG, (errmsg("tenant_backup scheduler of database \"%s\" stopping", database)));
	proc_exit(0);
}
