#include "core/schedule/retention.hpp"

#include "core/schedule/civil_time.hpp"

#include <algorithm>
#include <functional>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::schedule {

namespace {

// Marks the newest backup of each of the `count` most recent periods (`period_of` a backup)
// that have a backup. `backups` is sorted newest first.
void keep_newest_per_period(const std::vector<RetainedBackup> &backups, int count,
                            const std::function<int64_t(const RetainedBackup &)> &period_of, std::vector<bool> &keep) {
	int64_t last_period = 0;
	int periods = 0;
	for (size_t i = 0; i < backups.size() && count > 0; i++) {
		int64_t period = period_of(backups[i]);
		if (periods > 0 && period == last_period)
			continue;
		keep[i] = true;
		last_period = period;
		if (++periods == count)
			break;
	}
}

} // namespace

std::vector<int64_t> backups_to_delete(std::vector<RetainedBackup> backups, const RetentionPolicy &policy, int64_t now,
                                       const TimeZone &zone) {
	if (policy.keeps_everything())
		return {};
	std::sort(backups.begin(), backups.end(), [](const RetainedBackup &a, const RetainedBackup &b) {
		return a.taken_at != b.taken_at ? a.taken_at > b.taken_at : a.id > b.id;
	});
	std::vector<bool> keep(backups.size(), false);
	for (size_t i = 0; i < backups.size(); i++) {
		bool recent = policy.keep_days > 0 && backups[i].taken_at > now - int64_t(policy.keep_days) * 86400;
		keep[i] = i == 0 || static_cast<int64_t>(i) < policy.keep_last || recent;
	}
	auto local_day = [&zone](const RetainedBackup &b) { return floor_div(to_local(zone, b.taken_at), 86400); };
	keep_newest_per_period(backups, policy.keep_daily, local_day, keep);
	keep_newest_per_period(
	    backups, policy.keep_weekly, [&](const RetainedBackup &b) { return int64_t(iso_week_key(local_day(b))); },
	    keep);
	keep_newest_per_period(
	    backups, policy.keep_monthly,
	    [&](const RetainedBackup &b) {
		    CivilDate d = civil_from_days(local_day(b));
		    return int64_t(d.year) * 12 + d.month;
	    },
	    keep);
	std::vector<int64_t> doomed;
	for (size_t i = backups.size(); i-- > 0;)
		if (!keep[i])
			doomed.push_back(backups[i].id);
	return doomed;
}

} // namespace tb::schedule
