// The catalog side of scheduled backups (tenant_backup.schedule_state and the 'running' rows of
// tenant_backup.backups), shared by the scheduler and its job workers. Needs SPI connected; runs
// as the current (bootstrap superuser) role of the workers.
#pragma once
#include "pg/scheduler/schedules.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tb::pg {

struct Claim {
	std::string tenant;
	int64_t backup_id = 0;
};

// Takes AccessShareLock on every table of the extension without waiting. False if one is locked
// (DROP EXTENSION or a CREATE EXTENSION in progress) or the extension is gone: the caller then
// does nothing in this transaction, so that it never waits for one of our tables while holding
// another (which deadlocked with DROP EXTENSION ... CASCADE).
bool lock_extension_tables();

// What the scheduler's upkeep changed in schedule_state, counted for its log line.
struct StateChanges {
	int added = 0, dropped = 0, computed = 0;
};

// State rows for the tenants that have none yet (a batch: the caller keeps lists short).
void add_schedule_states(const std::vector<std::string> &tenants, StateChanges &changes);

// One batch of a pass over the idle tenants' state rows: at most `limit` rows after `after`
// (nullopt: from the first), in the primary key's order. Drops the rows of tenants not in `keep`
// (sorted; nullptr: drops none), and (re)computes next runs: Changed, those made under another
// schedule; All, every one (the scheduler's clock was moved); None, none. Returns where the next
// batch starts, or nullopt when this was the last.
enum class Recompute { None, Changed, All };
std::optional<std::string> refresh_schedule_states(const ScheduleSet &schedules, const std::vector<std::string> *keep,
                                                   Recompute recompute, int64_t now,
                                                   const std::optional<std::string> &after, int limit,
                                                   StateChanges &changes);

// How many idle tenants are due now, counting up to `limit`.
int due_tenants(int limit, int64_t now);

// A job worker claims the first due idle tenant: a 'running' auto backup row, and the state row
// naming the backup and the worker's pid; committed before the backup starts, so that a crash
// leaves a claim the scheduler finds lost. nullopt when no tenant is due.
std::optional<Claim> claim_next_job(int pid, int64_t now);

// The earliest next run of an idle tenant, if any.
std::optional<int64_t> earliest_next_run();

struct RunningJob {
	std::string tenant;
	int64_t backup_id = 0;
	int pid = 0; // the job worker that claimed it
	// Whether that pid is a tenant_backup job worker of this database that started before the
	// claim, holds no newer claim (it has not moved on to another tenant), and the claim was made
	// since the server started (a pid may be reused after a restart); or the claim is too recent
	// to judge.
	bool worker_alive = false;
	int64_t running_seconds = 0; // since it was claimed
};
struct RunningJobs {
	std::vector<RunningJob> jobs;
	std::vector<int> worker_pids; // the job workers of this database
};
RunningJobs running_jobs();

// Locks the state row of `job` (FOR UPDATE, to the end of the transaction) if it still claims
// the job for the same worker and that worker still runs it (as worker_alive, read afresh); false
// otherwise, or if the row is locked (its worker records the outcome right now). While the lock
// is held the worker can neither end the job (recording its outcome updates that row) nor take
// another tenant: a signal sent then reaches this job. Needs a superuser (pg_stat_activity).
bool lock_running_job(const RunningJob &job);

// 'running' auto backup rows that no state row claims (left by a crash between steps).
std::vector<int64_t> unclaimed_running_backups();

void record_job_success(const std::string &tenant, int64_t backup_id);
// Marks the backup failed with `reason`, removes what it left in the repository, and schedules a
// retry with backoff (never later than the next regular run). tenant "" when unknown.
void record_job_failure(const std::string &tenant, int64_t backup_id, const std::string &reason);

// Deletes the tenant's automatic backups its retention policy no longer keeps (pinned ones and
// those with keep_until in the future stay), and failed automatic rows older than the oldest
// kept one. Returns how many backups were deleted.
int apply_retention(const std::string &tenant, const Schedule &schedule, int64_t now);

// Deletes the pre_restore backups (issue 21) older than `days` (unless pinned or kept), every copy,
// audited as retention; at most `limit` in this transaction. Returns how many it deleted.
int expire_pre_restore_backups(int days, int limit);

} // namespace tb::pg
