// Retention decisions: keep_last, keep_days, grandfather-father-son, the newest-backup guarantee.
#include "core/schedule/retention.hpp"
#include "schedule_support.hpp"

#include <gtest/gtest.h>

#include <set>

using tb::schedule::backups_to_delete;
using tb::schedule::FixedOffsetZone;
using tb::schedule::RetainedBackup;
using tb::schedule::RetentionPolicy;
using tbtest::utc;

namespace {

// One backup a day at 02:00 UTC from `first` for `days` days, ids 1, 2, ...
std::vector<RetainedBackup> daily(int64_t first, int days) {
	std::vector<RetainedBackup> out;
	for (int i = 0; i < days; i++)
		out.push_back({i + 1, first + int64_t(i) * 86400});
	return out;
}

RetentionPolicy only(int keep_last = 0, int keep_days = 0, int daily = 0, int weekly = 0, int monthly = 0) {
	RetentionPolicy p;
	p.keep_last = keep_last;
	p.keep_days = keep_days;
	p.keep_daily = daily;
	p.keep_weekly = weekly;
	p.keep_monthly = monthly;
	return p;
}

const FixedOffsetZone kUtc;

} // namespace

TEST(Retention, KeepLastDeletesTheOldestFirst) {
	auto backups = daily(utc(2026, 11, 1, 2), 20);
	std::swap(backups[0], backups[7]); // input order does not matter
	auto doomed = backups_to_delete(backups, only(14), utc(2026, 11, 21), kUtc);
	EXPECT_EQ(doomed, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
	EXPECT_TRUE(backups_to_delete(daily(utc(2026, 11, 1, 2), 14), only(14), utc(2026, 11, 21), kUtc).empty());
	EXPECT_TRUE(backups_to_delete({}, only(14), utc(2026, 11, 21), kUtc).empty());
}

TEST(Retention, TheNewestBackupIsAlwaysKept) {
	// Every backup is older than keep_days (newer ones failed): the newest stays anyway.
	auto backups = daily(utc(2026, 1, 1, 2), 5);
	EXPECT_EQ(backups_to_delete(backups, only(0, 7), utc(2026, 11, 21), kUtc), (std::vector<int64_t>{1, 2, 3, 4}));
	EXPECT_EQ(backups_to_delete(backups, only(1), utc(2026, 11, 21), kUtc), (std::vector<int64_t>{1, 2, 3, 4}));
	// All rules zero: retention is off.
	EXPECT_TRUE(backups_to_delete(backups, only(0), utc(2026, 11, 21), kUtc).empty());
}

TEST(Retention, KeepDaysKeepsEverythingTakenSince) {
	auto backups = daily(utc(2026, 11, 1, 2), 20); // the newest is 2026-11-20 02:00
	auto doomed = backups_to_delete(backups, only(0, 3), utc(2026, 11, 20, 3), kUtc);
	EXPECT_EQ(doomed.size(), 17u) << "keeps Nov 18, 19 and 20 (taken after Nov 17 03:00)";
	EXPECT_EQ(doomed.back(), 17);
	// keep_last and keep_days together: a backup either keeps is kept.
	EXPECT_EQ(backups_to_delete(backups, only(5, 3), utc(2026, 11, 20, 3), kUtc).size(), 15u);
}

TEST(Retention, GrandfatherFatherSon) {
	// 100 daily backups, 2026-01-01 .. 2026-04-10 (a Friday); 7 daily, 4 weekly, 3 monthly.
	auto backups = daily(utc(2026, 1, 1, 2), 100);
	auto doomed = backups_to_delete(backups, only(0, 0, 7, 4, 3), utc(2026, 4, 10, 3), kUtc);
	std::set<int64_t> kept;
	for (const auto &b : backups)
		kept.insert(b.id);
	for (int64_t id : doomed)
		kept.erase(id);
	auto id_of = [](int month, int day) {
		return tb::schedule::days_from_civil({2026, month, day}) - tb::schedule::days_from_civil({2026, 1, 1}) + 1;
	};
	std::set<int64_t> expected = {
	    id_of(4, 4),  id_of(4, 5),  id_of(4, 6), id_of(4, 7), id_of(4, 8), id_of(4, 9), id_of(4, 10), // days
	    id_of(3, 29), id_of(3, 22), // Sundays ending the weeks before (Apr 5 is a day already)
	    id_of(3, 31), id_of(2, 28), // last of March and of February (April's is Apr 10)
	};
	EXPECT_EQ(kept, expected);
	EXPECT_EQ(doomed.size(), 89u);
	EXPECT_TRUE(std::is_sorted(doomed.begin(), doomed.end())) << "oldest first";
}

TEST(Retention, PeriodsKeepTheirNewestBackupAndSkipEmptyPeriods) {
	// Several backups a day, and a gap of two weeks: keep_daily counts days that have backups.
	std::vector<RetainedBackup> backups = {
	    {1, utc(2026, 11, 1, 2)}, {2, utc(2026, 11, 1, 14)}, {3, utc(2026, 11, 2, 2)},
	    {4, utc(2026, 11, 2, 9)}, {5, utc(2026, 11, 20, 2)}, {6, utc(2026, 11, 20, 2)}, // same second: id decides
	};
	auto doomed = backups_to_delete(backups, only(0, 0, 3), utc(2026, 11, 21), kUtc);
	EXPECT_EQ(doomed, (std::vector<int64_t>{1, 3, 5}));
}

TEST(Retention, DaysAreCountedInTheScheduleTimeZone) {
	// 22:00 and 23:30 UTC on Nov 1 and 00:30 UTC on Nov 2: in UTC two days, at +03:00 all Nov 2.
	std::vector<RetainedBackup> backups = {
	    {1, utc(2026, 11, 1, 22)}, {2, utc(2026, 11, 1, 23, 30)}, {3, utc(2026, 11, 2, 0, 30)}};
	EXPECT_EQ(backups_to_delete(backups, only(0, 0, 2), utc(2026, 11, 3), kUtc), (std::vector<int64_t>{1}));
	tbtest::SystemZone nairobi("Africa/Nairobi");
	EXPECT_EQ(backups_to_delete(backups, only(0, 0, 2), utc(2026, 11, 3), nairobi), (std::vector<int64_t>{1, 2}));
}
