#include "core/schedule/civil_time.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::schedule {

int64_t floor_div(int64_t a, int64_t b) {
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t days_from_civil(const CivilDate &date) {
	int64_t y = date.year - (date.month <= 2 ? 1 : 0);
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t mp = (date.month + 9) % 12; // March = 0
	int64_t doy = (153 * mp + 2) / 5 + date.day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

CivilDate civil_from_days(int64_t days) {
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	CivilDate date;
	date.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
	date.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
	date.year = static_cast<int>(yoe + era * 400 + (date.month <= 2 ? 1 : 0));
	return date;
}

int weekday(int64_t days) {
	return static_cast<int>(days - floor_div(days + 4, 7) * 7 + 4); // 1970-01-01 was a Thursday
}

int days_in_month(int year, int month) {
	static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : kDays[month - 1];
}

int iso_week_key(int64_t days) {
	// The ISO week belongs to the year of its Thursday.
	int iso_weekday = (weekday(days) + 6) % 7; // Monday = 0
	int64_t thursday = days - iso_weekday + 3;
	int year = civil_from_days(thursday).year;
	int64_t jan1 = days_from_civil({year, 1, 1});
	int week = static_cast<int>((thursday - jan1) / 7) + 1;
	return year * 100 + week;
}

} // namespace tb::schedule
