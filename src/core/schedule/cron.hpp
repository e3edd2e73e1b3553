// Standard five-field cron expressions ("minute hour day-of-month month day-of-week") and the
// next run time in a time zone.
//
// Fields take `*`, numbers, ranges `a-b`, steps `*/n` `a-b/n` `a/n`, lists `a,b-c`, and English
// names for months (jan-dec) and weekdays (sun-sat, 0 or 7 = Sunday). As in Vixie cron (and
// pg_cron), when both day fields are restricted a day matches if either does. The shorthands
// @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly are accepted.
//
// Times are wall-clock times in the schedule's zone. On a daylight-saving change a job neither
// runs twice nor is skipped: a time the clocks pass twice runs at its first occurrence, a time the
// clocks skip runs when they jump (02:30 on a spring-forward night runs at 03:00).
#pragma once
#include "core/schedule/time_zone.hpp"

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

namespace tb::schedule {

class CronSchedule {
public:
	// Throws Error(InvalidInput) naming the bad field, or if the expression can never match.
	static CronSchedule parse(const std::string &expression);

	// The first run strictly after `utc` (seconds since the epoch), or nothing if there is none
	// within eight years.
	std::optional<int64_t> next_after(int64_t utc, const TimeZone &zone) const;
	// The last run at or before `utc`, or nothing if there is none within eight years.
	std::optional<int64_t> last_at_or_before(int64_t utc, const TimeZone &zone) const;

	const std::string &expression() const { return expression_; }

private:
	bool day_matches(int64_t days) const;

	std::string expression_;
	std::bitset<60> minutes_;
	std::bitset<24> hours_;
	std::bitset<32> days_of_month_; // 1-31
	std::bitset<13> months_;        // 1-12
	std::bitset<7> days_of_week_;   // 0 = Sunday
	bool day_of_month_any_ = false, day_of_week_any_ = false;
};

// Spreads tenants over a window: a deterministic offset in [0, window_minutes * 60) seconds from
// a hash of the tenant, the same on every server and in every release.
int64_t window_offset_seconds(const std::string &tenant, int window_minutes);

// A cadence of `interval_seconds` per tenant (the scheduler's verifications and restore drills),
// spread over the interval by the same hash as a backup window (window_offset_seconds, a window as
// long as the interval, in whole minutes): the tenant's runs are at k * interval + offset seconds
// since the epoch. Returns the first run strictly after `after`; interval_seconds must be > 0.
int64_t next_cadence_run(const std::string &tenant, int64_t interval_seconds, int64_t after);

} // namespace tb::schedule
