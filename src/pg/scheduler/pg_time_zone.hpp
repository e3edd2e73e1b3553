// schedule::TimeZone over PostgreSQL's time zone library (src/timezone), which the server's
// own timestamptz arithmetic uses.
#pragma once
#include "core/schedule/time_zone.hpp"
#include "pg/boundary/pg_headers.hpp"

extern "C" {
#include "pgtime.h"
}

namespace tb::pg {

class PgTimeZone : public schedule::TimeZone {
public:
	explicit PgTimeZone(pg_tz *tz) : tz_(tz) {}
	// pg_localtime only reads the loaded zone data and raises no errors: safe outside pg_call.
	int32_t utc_offset(int64_t utc) const override {
		pg_time_t t = static_cast<pg_time_t>(utc);
		struct pg_tm *tm = pg_localtime(&t, tz_);
		return tm ? static_cast<int32_t>(tm->tm_gmtoff) : 0;
	}

private:
	pg_tz *tz_; // owned by PostgreSQL's time zone cache, never freed
};

} // namespace tb::pg
