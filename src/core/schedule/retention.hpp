// Which automatic backups of a tenant to delete. A backup is kept if any rule keeps it:
//   keep_last N     the N newest;
//   keep_days D     those taken in the last D days;
//   keep_daily N    the newest of each of the N most recent local days that have a backup,
//   keep_weekly N   ... of each of the N most recent ISO weeks (Monday to Sunday),
//   keep_monthly N  ... of each of the N most recent calendar months (grandfather-father-son).
// The newest backup is always kept. A rule set to 0 keeps nothing by itself; a policy whose rules
// are all 0 keeps everything (retention off).
#pragma once
#include "core/schedule/time_zone.hpp"

#include <cstdint>
#include <vector>

namespace tb::schedule {

struct RetentionPolicy {
	int keep_last = 14;
	int keep_days = 0;
	int keep_daily = 0, keep_weekly = 0, keep_monthly = 0;
	bool keeps_everything() const { return !keep_last && !keep_days && !keep_daily && !keep_weekly && !keep_monthly; }
};

struct RetainedBackup {
	int64_t id = 0;
	int64_t taken_at = 0; // seconds since the epoch
};

// `backups`: the tenant's completed automatic backups, in any order. Returns the ids to delete,
// oldest first. Days, weeks and months are counted in `zone` (the schedule's time zone).
std::vector<int64_t> backups_to_delete(std::vector<RetainedBackup> backups, const RetentionPolicy &policy, int64_t now,
                                       const TimeZone &zone);

} // namespace tb::schedule
