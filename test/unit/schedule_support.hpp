// Helpers for the schedule tests: a time zone backed by the C library's tz database (the server
// uses PostgreSQL's copy of the same data), and UTC instants written as calendar times.
#pragma once
#include "core/schedule/civil_time.hpp"
#include "core/schedule/time_zone.hpp"

#include <cstdlib>
#include <ctime>
#include <string>

namespace tbtest {

class SystemZone : public tb::schedule::TimeZone {
public:
	explicit SystemZone(std::string name) : name_(std::move(name)) {}
	int32_t utc_offset(int64_t utc) const override {
		setenv("TZ", name_.c_str(), 1);
		tzset();
		time_t t = static_cast<time_t>(utc);
		struct tm tm;
		localtime_r(&t, &tm);
		return static_cast<int32_t>(tm.tm_gmtoff);
	}

private:
	std::string name_;
};

// Seconds since the epoch of a UTC calendar time.
inline int64_t utc(int year, int month, int day, int hour = 0, int minute = 0) {
	return tb::schedule::days_from_civil({year, month, day}) * 86400 + hour * 3600 + minute * 60;
}

// "YYYY-MM-DD HH:MM" of an instant as local time in `zone`, for readable failures.
inline std::string local_text(const tb::schedule::TimeZone &zone, int64_t instant) {
	int64_t local = tb::schedule::to_local(zone, instant);
	int64_t days = tb::schedule::floor_div(local, 86400);
	auto d = tb::schedule::civil_from_days(days);
	int64_t secs = local - days * 86400;
	char buf[32];
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d", d.year, d.month, d.day, int(secs / 3600),
	         int(secs % 3600 / 60));
	return buf;
}

} // namespace tbtest
