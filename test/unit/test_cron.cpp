// Cron parsing, next-run computation across daylight-saving changes, and window spreading.
#include "core/error.hpp"
#include "core/schedule/cron.hpp"
#include "schedule_support.hpp"
#include "test_support.hpp"

#include <map>
#include <set>

using tb::schedule::CronSchedule;
using tb::schedule::FixedOffsetZone;
using tbtest::local_text;
using tbtest::SystemZone;
using tbtest::utc;

namespace {

const FixedOffsetZone kUtc;

// Every run in [from, to), by local text.
std::vector<std::string> runs_between(const CronSchedule &cron, const tb::schedule::TimeZone &zone, int64_t from,
                                      int64_t to) {
	std::vector<std::string> out;
	for (auto run = cron.next_after(from - 1, zone); run && *run < to; run = cron.next_after(*run, zone))
		out.push_back(local_text(zone, *run));
	return out;
}

std::string error_of(const std::string &expression) {
	try {
		CronSchedule::parse(expression);
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), tb::ErrorKind::InvalidInput);
		return e.what();
	}
	return "(accepted)";
}

} // namespace

TEST(CivilTime, RoundTripsAndWeekdays) {
	for (int64_t days = -800000; days < 800000; days += 997) {
		auto d = tb::schedule::civil_from_days(days);
		ASSERT_EQ(tb::schedule::days_from_civil(d), days);
	}
	EXPECT_EQ(tb::schedule::weekday(tb::schedule::days_from_civil({2026, 11, 25})), 3); // a Wednesday
	EXPECT_EQ(tb::schedule::weekday(tb::schedule::days_from_civil({1969, 12, 28})), 0); // a Sunday
	EXPECT_EQ(tb::schedule::days_in_month(2028, 2), 29);
	EXPECT_EQ(tb::schedule::days_in_month(2100, 2), 28);
	// ISO weeks: 2026-01-01 is a Thursday, so week 1 of 2026; 2027-01-01 (Friday) is in 2026's week 53.
	EXPECT_EQ(tb::schedule::iso_week_key(tb::schedule::days_from_civil({2026, 1, 1})), 202601);
	EXPECT_EQ(tb::schedule::iso_week_key(tb::schedule::days_from_civil({2027, 1, 1})), 202653);
	EXPECT_EQ(tb::schedule::iso_week_key(tb::schedule::days_from_civil({2024, 12, 30})), 202501);
}

TEST(Cron, ParsesEveryFieldSyntax) {
	auto cron = CronSchedule::parse("0 2 * * *");
	EXPECT_EQ(*cron.next_after(utc(2026, 11, 25, 10, 0), kUtc), utc(2026, 11, 26, 2, 0));
	EXPECT_EQ(*cron.next_after(utc(2026, 11, 25, 1, 59), kUtc), utc(2026, 11, 25, 2, 0));
	EXPECT_EQ(*cron.next_after(utc(2026, 11, 25, 2, 0), kUtc), utc(2026, 11, 26, 2, 0)) << "strictly after";

	EXPECT_EQ(runs_between(CronSchedule::parse("*/20 1 * * *"), kUtc, utc(2026, 1, 1), utc(2026, 1, 2)),
	          (std::vector<std::string>{"2026-01-01 01:00", "2026-01-01 01:20", "2026-01-01 01:40"}));
	EXPECT_EQ(
	    runs_between(CronSchedule::parse("5,10-20/5 9-17/4 * * *"), kUtc, utc(2026, 1, 1), utc(2026, 1, 1, 10)),
	    (std::vector<std::string>{"2026-01-01 09:05", "2026-01-01 09:10", "2026-01-01 09:15", "2026-01-01 09:20"}));
	EXPECT_EQ(runs_between(CronSchedule::parse("50/5 0 * * *"), kUtc, utc(2026, 1, 1), utc(2026, 1, 1, 1)),
	          (std::vector<std::string>{"2026-01-01 00:50", "2026-01-01 00:55"}))
	    << "a/n runs from a to the end of the range";
	// Names, either case; Sunday as 0 and as 7.
	auto weekdays = CronSchedule::parse("0 0 * JAN-mar Mon-FRI");
	EXPECT_EQ(runs_between(weekdays, kUtc, utc(2026, 3, 27), utc(2026, 4, 3)),
	          (std::vector<std::string>{"2026-03-27 00:00", "2026-03-30 00:00", "2026-03-31 00:00"}));
	EXPECT_EQ(*CronSchedule::parse("0 0 * * 7").next_after(utc(2026, 11, 25), kUtc), utc(2026, 11, 29));
	EXPECT_EQ(*CronSchedule::parse("0 0 * * sun").next_after(utc(2026, 11, 25), kUtc), utc(2026, 11, 29));
	// Month and year rollover, and February 29th four years on.
	EXPECT_EQ(*CronSchedule::parse("0 0 1 * *").next_after(utc(2026, 12, 15), kUtc), utc(2027, 1, 1));
	EXPECT_EQ(*CronSchedule::parse("0 0 31 * *").next_after(utc(2026, 4, 1), kUtc), utc(2026, 5, 31));
	EXPECT_EQ(*CronSchedule::parse("0 0 29 2 *").next_after(utc(2024, 3, 1), kUtc), utc(2028, 2, 29));
	// Shorthands.
	EXPECT_EQ(*CronSchedule::parse("@daily").next_after(utc(2026, 11, 25, 5), kUtc), utc(2026, 11, 26));
	EXPECT_EQ(*CronSchedule::parse("@hourly").next_after(utc(2026, 11, 25, 5, 1), kUtc), utc(2026, 11, 25, 6));
	EXPECT_EQ(*CronSchedule::parse("@weekly").next_after(utc(2026, 11, 25), kUtc), utc(2026, 11, 29));
	EXPECT_EQ(*CronSchedule::parse("@monthly").next_after(utc(2026, 11, 25), kUtc), utc(2026, 12, 1));
	EXPECT_EQ(*CronSchedule::parse("@yearly").next_after(utc(2026, 11, 25), kUtc), utc(2027, 1, 1));
	EXPECT_EQ(*CronSchedule::parse("  0   2  *  *  * ").next_after(utc(2026, 1, 1), kUtc), utc(2026, 1, 1, 2))
	    << "any whitespace between fields";
}

TEST(Cron, BothDayFieldsRestrictedMeansEither) {
	// Vixie cron: the 13th of the month OR any Friday; with one field '*' only the other counts.
	auto either = CronSchedule::parse("0 0 13 * fri");
	EXPECT_EQ(runs_between(either, kUtc, utc(2026, 11, 1), utc(2026, 11, 21)),
	          (std::vector<std::string>{"2026-11-06 00:00", "2026-11-13 00:00", "2026-11-20 00:00"}));
	auto thirteenth = CronSchedule::parse("0 0 13 * *");
	EXPECT_EQ(runs_between(thirteenth, kUtc, utc(2026, 11, 1), utc(2026, 11, 21)),
	          (std::vector<std::string>{"2026-11-13 00:00"}));
	auto star_step = CronSchedule::parse("0 0 */10 * mon"); // starts with '*': both must match
	EXPECT_EQ(runs_between(star_step, kUtc, utc(2026, 1, 1), utc(2027, 1, 1)),
	          (std::vector<std::string>{"2026-05-11 00:00", "2026-06-01 00:00", "2026-08-31 00:00", "2026-09-21 00:00",
	                                    "2026-12-21 00:00"}))
	    << "Mondays on the 1st, 11th, 21st or 31st";
}

TEST(Cron, RejectsBadExpressionsNamingTheField) {
	EXPECT_NE(error_of("0 2 * *").find("expected 5 fields"), std::string::npos);
	EXPECT_NE(error_of("0 2 * * * *").find("found 6"), std::string::npos);
	EXPECT_NE(error_of("").find("found 0"), std::string::npos);
	EXPECT_NE(error_of("60 2 * * *").find("minute \"60\": 60 is out of range 0-59"), std::string::npos);
	EXPECT_NE(error_of("0 24 * * *").find("hour"), std::string::npos);
	EXPECT_NE(error_of("0 0 0 * *").find("day of month"), std::string::npos);
	EXPECT_NE(error_of("0 0 * 13 *").find("month"), std::string::npos);
	EXPECT_NE(error_of("0 0 * * 8").find("day of week"), std::string::npos);
	EXPECT_NE(error_of("0 0 * * funday").find("not a number or name"), std::string::npos);
	EXPECT_NE(error_of("0 0 * jan-feb,smarch *").find("month"), std::string::npos);
	EXPECT_NE(error_of("x 0 * * *").find("not a number"), std::string::npos);
	EXPECT_NE(error_of("5-1 0 * * *").find("runs backwards"), std::string::npos);
	EXPECT_NE(error_of("*/0 0 * * *").find("step"), std::string::npos);
	EXPECT_NE(error_of("*/ 0 * * *").find("step"), std::string::npos);
	EXPECT_NE(error_of("*/99 0 * * *").find("step"), std::string::npos);
	EXPECT_NE(error_of("*/9999999 0 * * *").find("out of range"), std::string::npos);
	// A step is digits only: trailing garbage is refused, not ignored.
	EXPECT_NE(error_of("*/5x * * * *").find("minute \"*/5x\": step \"5x\" is not a number"), std::string::npos);
	EXPECT_NE(error_of("0 1-5/2a * * *").find("hour"), std::string::npos);
	EXPECT_NE(error_of("0 0 * * 1/2/3").find("step \"2/3\""), std::string::npos);
	EXPECT_NE(error_of("*/+5 * * * *").find("not a number"), std::string::npos);
	EXPECT_EQ(error_of("*/5 * * * *"), "(accepted)") << "a plain step still parses";
	EXPECT_NE(error_of("1,,2 0 * * *").find("empty"), std::string::npos);
	EXPECT_NE(error_of("1, 0 * * *").find("empty list item"), std::string::npos);
	EXPECT_NE(error_of("1- 0 * * *").find("empty"), std::string::npos);
	EXPECT_NE(error_of("-1 0 * * *").find("empty"), std::string::npos);
	EXPECT_NE(error_of("99999999999 0 * * *").find("not a number"), std::string::npos);
	EXPECT_NE(error_of("0 0 30 2 *").find("never runs"), std::string::npos);
	EXPECT_NE(error_of("@fortnightly").find("unknown cron shorthand"), std::string::npos);
	EXPECT_TRUE(tbtest::throws_kind(tb::ErrorKind::InvalidInput, [] { CronSchedule::parse("0 0 31 4,6,9,11 *"); }));
}

TEST(TimeZone, FromLocalResolvesGapsAndOverlaps) {
	SystemZone ny("America/New_York");
	// 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00 UTC. 02:30 does not exist: it names the jump.
	EXPECT_EQ(tb::schedule::from_local(ny, utc(2026, 3, 8, 2, 30)), utc(2026, 3, 8, 7, 0));
	EXPECT_EQ(tb::schedule::from_local(ny, utc(2026, 3, 8, 1, 59)), utc(2026, 3, 8, 6, 59));
	EXPECT_EQ(tb::schedule::from_local(ny, utc(2026, 3, 8, 3, 0)), utc(2026, 3, 8, 7, 0));
	// 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00 UTC. 01:30 happens twice: the first one.
	EXPECT_EQ(tb::schedule::from_local(ny, utc(2026, 11, 1, 1, 30)), utc(2026, 11, 1, 5, 30));
	EXPECT_EQ(tb::schedule::from_local(ny, utc(2026, 11, 1, 2, 0)), utc(2026, 11, 1, 7, 0));
	// Lord Howe Island moves its clocks by half an hour.
	SystemZone lord_howe("Australia/Lord_Howe");
	int64_t jump = tb::schedule::from_local(lord_howe, utc(2026, 10, 4, 2, 15));
	EXPECT_EQ(local_text(lord_howe, jump), "2026-10-04 02:30");
	for (int64_t t = utc(2026, 1, 1); t < utc(2027, 1, 1); t += 3607) // away from transitions, exact round trips
		if (tb::schedule::from_local(ny, tb::schedule::to_local(ny, t)) != t) {
			ASSERT_EQ(local_text(ny, t).substr(11, 2), "01") << "only the repeated hour may differ";
		}
}

TEST(Cron, DailyJobsRunOnceEveryLocalDayAcrossDaylightSaving) {
	// The promise: a nightly job is neither skipped nor doubled when the clocks change, in zones
	// north and south, with and without daylight saving, and with half-hour offsets.
	const char *zones[] = {"America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
	                       "Africa/Nairobi",   "Asia/Kolkata",  "America/Santiago", "UTC"};
	const char *crons[] = {"30 2 * * *", "0 2 * * *", "0 3 * * *", "30 1 * * *", "0 0 * * *", "15 2 * * 0"};
	for (const char *name : zones) {
		SystemZone zone(name);
		for (const char *expression : crons) {
			auto cron = CronSchedule::parse(expression);
			std::map<std::string, int> per_day;
			int64_t previous = 0;
			for (auto run = cron.next_after(utc(2025, 12, 31, 12), zone); run && *run < utc(2027, 1, 1, 12);
			     run = cron.next_after(*run, zone)) {
				ASSERT_GT(*run, previous);
				previous = *run;
				per_day[local_text(zone, *run).substr(0, 10)]++;
			}
			size_t expected = std::string(expression).back() == '0' ? 52 : 366; // Sundays, or 2026 + 1 day
			std::set<std::string> days;
			for (const auto &[day, count] : per_day) {
				EXPECT_EQ(count, 1) << name << " " << expression << " ran twice on " << day;
				days.insert(day);
			}
			EXPECT_GE(days.size(), expected) << name << " " << expression;
			EXPECT_LE(days.size(), expected + 1) << name << " " << expression;
		}
	}
}

TEST(Cron, DaylightSavingDetailsInNewYork) {
	SystemZone ny("America/New_York");
	auto nightly = CronSchedule::parse("30 2 * * *");
	EXPECT_EQ(runs_between(nightly, ny, utc(2026, 3, 7), utc(2026, 3, 10)),
	          (std::vector<std::string>{"2026-03-07 02:30", "2026-03-08 03:00", "2026-03-09 02:30"}))
	    << "the skipped 02:30 runs when the clocks jump";
	auto early = CronSchedule::parse("30 1 * * *");
	EXPECT_EQ(*early.next_after(utc(2026, 10, 31, 12), ny), utc(2026, 11, 1, 5, 30)) << "first 01:30 (EDT)";
	EXPECT_EQ(*early.next_after(utc(2026, 11, 1, 5, 30), ny), utc(2026, 11, 2, 6, 30)) << "not the second 01:30 (EST)";
	// Asked during the repeated hour (after the first 01:30 ran), it does not run again.
	EXPECT_EQ(*early.next_after(utc(2026, 11, 1, 6, 10), ny), utc(2026, 11, 2, 6, 30));
	// Hourly jobs run at each wall-clock hour once: 23 runs on the short day, 24 on the long one.
	auto hourly = CronSchedule::parse("0 * * * *");
	EXPECT_EQ(runs_between(hourly, ny, utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)).size(), 23u);
	EXPECT_EQ(runs_between(hourly, ny, utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)).size(), 24u);
}

TEST(Cron, LastRunAtOrBefore) {
	auto nightly = CronSchedule::parse("0 2 * * *");
	EXPECT_EQ(*nightly.last_at_or_before(utc(2026, 11, 25, 10), kUtc), utc(2026, 11, 25, 2));
	EXPECT_EQ(*nightly.last_at_or_before(utc(2026, 11, 25, 2), kUtc), utc(2026, 11, 25, 2)) << "at counts";
	EXPECT_EQ(*nightly.last_at_or_before(utc(2026, 11, 25, 1, 59), kUtc), utc(2026, 11, 24, 2));
	EXPECT_EQ(*CronSchedule::parse("0 0 1 1 *").last_at_or_before(utc(2026, 11, 25), kUtc), utc(2026, 1, 1));
	EXPECT_EQ(*CronSchedule::parse("0 0 29 2 *").last_at_or_before(utc(2026, 11, 25), kUtc), utc(2024, 2, 29));
	SystemZone nairobi("Africa/Nairobi"); // "every night at 02:00 EAT" is 23:00 UTC the day before
	EXPECT_EQ(*nightly.last_at_or_before(utc(2026, 11, 25, 10), nairobi), utc(2026, 11, 24, 23));
	EXPECT_EQ(*nightly.next_after(utc(2026, 11, 25, 10), nairobi), utc(2026, 11, 25, 23));
}

TEST(Cron, LastRunOfAMinutelySchedule) {
	auto minutely = CronSchedule::parse("* * * * *");
	EXPECT_EQ(*minutely.last_at_or_before(utc(2026, 11, 25, 10, 17) + 42, kUtc), utc(2026, 11, 25, 10, 17));
	EXPECT_EQ(*minutely.last_at_or_before(utc(2026, 11, 25, 10, 17), kUtc), utc(2026, 11, 25, 10, 17));
	EXPECT_EQ(*minutely.last_at_or_before(utc(2026, 11, 25, 10, 17) - 1, kUtc), utc(2026, 11, 25, 10, 16));
	// In New York's repeated hour (01:00-01:59 EST, after 01:59 EDT) a wall-clock minute that
	// already ran does not run again: the last run is 01:59 EDT, over half an hour back.
	SystemZone ny("America/New_York");
	EXPECT_EQ(*minutely.last_at_or_before(utc(2026, 11, 1, 6, 30), ny), utc(2026, 11, 1, 5, 59));
	// Whatever the schedule and the instant, the last run is at or before it and the next run
	// after the last is after it: no run is skipped between them.
	const char *crons[] = {"* * * * *", "*/7 * * * *", "* 2 * * *", "0 * * * *", "30 2 * * *", "0 0 1 * *"};
	for (const char *expression : crons) {
		auto cron = CronSchedule::parse(expression);
		for (int64_t t = utc(2026, 10, 31, 20); t < utc(2026, 11, 2, 4); t += 7 * 60 + 13) {
			auto last = cron.last_at_or_before(t, ny);
			ASSERT_TRUE(last) << expression;
			ASSERT_LE(*last, t) << expression << " at " << local_text(ny, t);
			ASSERT_GT(*cron.next_after(*last, ny), t) << expression << " at " << local_text(ny, t);
		}
	}
}

TEST(Cron, WindowSpreadsTenantsDeterministically) {
	EXPECT_EQ(tb::schedule::window_offset_seconds("any", 0), 0);
	// FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c: the offset must never change between releases.
	EXPECT_EQ(tb::schedule::window_offset_seconds("a", 60), int64_t(0xaf63dc4c8601ec8cull % 3600));
	std::map<int64_t, int> per_minute;
	int max_per_second = 0;
	std::map<int64_t, int> per_second;
	for (int i = 0; i < 10000; i++) {
		std::string tenant = "tenant-" + std::to_string(i);
		int64_t offset = tb::schedule::window_offset_seconds(tenant, 60);
		ASSERT_GE(offset, 0);
		ASSERT_LT(offset, 3600);
		ASSERT_EQ(offset, tb::schedule::window_offset_seconds(tenant, 60));
		per_minute[offset / 60]++;
		max_per_second = std::max(max_per_second, ++per_second[offset]);
	}
	EXPECT_EQ(per_minute.size(), 60u) << "every minute of the window is used";
	for (const auto &[minute, count] : per_minute)
		EXPECT_LT(count, 250) << "minute " << minute << " is crowded (mean 167)";
	EXPECT_LE(max_per_second, 12) << "10,000 tenants do not start at the same second";
}

TEST(Cron, CadenceRunsEveryIntervalAtTheTenantsWindowOffset) {
	const int64_t week = 7 * 86400;
	// The offset is the backup window's rule for a window as long as the interval.
	int64_t offset = tb::schedule::window_offset_seconds("a", static_cast<int>(week / 60));
	EXPECT_EQ(offset, int64_t(0xaf63dc4c8601ec8cull % uint64_t(week)));
	int64_t first = tb::schedule::next_cadence_run("a", week, 0);
	EXPECT_EQ(first, offset) << "the first run after the epoch is at the offset";
	EXPECT_EQ(tb::schedule::next_cadence_run("a", week, first - 1), first);
	EXPECT_EQ(tb::schedule::next_cadence_run("a", week, first), first + week) << "strictly after";
	EXPECT_EQ(tb::schedule::next_cadence_run("a", week, first + week - 1), first + week);
	int64_t now = 1'790'000'000;
	int64_t next = tb::schedule::next_cadence_run("a", week, now);
	EXPECT_GT(next, now);
	EXPECT_LE(next, now + week);
	EXPECT_EQ((next - offset) % week, 0);
	// Before the epoch too (floor division).
	EXPECT_EQ(tb::schedule::next_cadence_run("a", week, -1), offset);
	EXPECT_EQ(tb::schedule::next_cadence_run("a", week, offset - week - 1), offset - week);
	EXPECT_THROW(tb::schedule::next_cadence_run("a", 0, now), tb::Error);
}

TEST(Cron, CadenceSpreadsTenantsOverTheInterval) {
	const int64_t week = 7 * 86400;
	int64_t now = 1'790'000'000;
	std::map<int64_t, int> per_day;
	for (int i = 0; i < 7000; i++) {
		int64_t next = tb::schedule::next_cadence_run("tenant-" + std::to_string(i), week, now);
		ASSERT_GT(next, now);
		ASSERT_LE(next, now + week);
		per_day[(next - now - 1) / 86400]++;
	}
	EXPECT_EQ(per_day.size(), 7u) << "every day of the week has tenants";
	for (const auto &[day, count] : per_day)
		EXPECT_LT(count, 1200) << "day " << day << " is crowded (mean 1000)";
}
