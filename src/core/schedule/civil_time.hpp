// Calendar arithmetic on the proleptic Gregorian calendar, with no time zone (Howard Hinnant's
// days_from_civil algorithms): the cron and retention rules count local days, weeks and months.
#pragma once
#include <cstdint>

namespace tb::schedule {

struct CivilDate {
	int year = 1970, month = 1, day = 1; // month 1-12, day 1-31
};

// Days since 1970-01-01 of a civil date, and back.
int64_t days_from_civil(const CivilDate &date);
CivilDate civil_from_days(int64_t days);
// 0 = Sunday ... 6 = Saturday.
int weekday(int64_t days);
int days_in_month(int year, int month);
// ISO 8601 week: (week-based year * 100 + week number), one value per Monday-to-Sunday week.
int iso_week_key(int64_t days);
// Floor division of seconds into days, correct before 1970 too.
int64_t floor_div(int64_t a, int64_t b);

} // namespace tb::schedule
