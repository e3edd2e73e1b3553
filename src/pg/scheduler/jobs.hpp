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

// Adds state rows for new tenants, drops idle ones of tenants not in `tenants` if remove_others,
// and (re)computes next runs made under another schedule. `tenants` is nullptr to skip discovery.
void refresh_schedule_state(const ScheduleSet &schedules, const std::vector<std::string> *tenants, bool remove_others,
                            int64_t now);

// Claims up to `limit` due tenants: a 'running' auto backup row each, committed with the claim.
std::vector<Claim> claim_due_jobs(int limit, int64_t now);

// The earliest next run of an idle tenant, if any.
std::optional<int64_t> earliest_next_run();

struct RunningJob {
	std::string tenant;
	int64_t backup_id = 0;
	int pid = 0; // 0 until the job worker has started
	// Whether its pid is a tenant_backup job worker of this database started since the claim,
	// and the claim was made since the server started (a pid may be reused after a restart).
	bool worker_alive = false;
	int64_t running_seconds = 0; // since it was claimed
};
std::vector<RunningJob> running_jobs();

// Gives back a claim whose job could not be started: its 'running' row goes, the tenant's next
// run stays (so it is claimed again), and nothing counts as a failure.
void release_claim(const Claim &claim);

// 'running' auto backup rows that no state row claims (left by a crash between steps).
std::vector<int64_t> unclaimed_running_backups();

// A job worker takes the claim: returns the backup's tenant, or nullopt if the backup is no
// longer claimed and running (the scheduler recorded it failed meanwhile): then it must not run.
std::optional<std::string> record_job_started(int64_t backup_id, int pid);
void record_job_success(const std::string &tenant, int64_t backup_id);
// Marks the backup failed with `reason`, removes what it left in the repository, and schedules a
// retry with backoff (never later than the next regular run). tenant "" when unknown.
void record_job_failure(const std::string &tenant, int64_t backup_id, const std::string &reason);

// Deletes the tenant's automatic backups its retention policy no longer keeps (pinned ones and
// those with keep_until in the future stay), and failed automatic rows older than the oldest
// kept one. Returns how many backups were deleted.
int apply_retention(const std::string &tenant, const Schedule &schedule, int64_t now);

} // namespace tb::pg
