// A time zone as the schedule code needs it: the UTC offset in force at an instant. The
// PostgreSQL layer implements it with PostgreSQL's own time zone library (pg_tzset/pg_localtime);
// unit tests use the C library's. Converting local times back to instants, with daylight-saving
// gaps and overlaps, is done here once for every implementation.
#pragma once
#include <cstdint>

namespace tb::schedule {

class TimeZone {
public:
	virtual ~TimeZone() = default;
	// Seconds east of UTC in force at `utc` (seconds since the epoch).
	virtual int32_t utc_offset(int64_t utc) const = 0;
};

class FixedOffsetZone : public TimeZone {
public:
	explicit FixedOffsetZone(int32_t offset = 0) : offset_(offset) {}
	int32_t utc_offset(int64_t) const override { return offset_; }

private:
	int32_t offset_;
};

// Local wall-clock seconds (seconds since the epoch as if the local time were UTC) at `utc`.
int64_t to_local(const TimeZone &zone, int64_t utc);

// The instant a local wall-clock time names. A time that occurs twice (clocks turned back) names
// its first occurrence; a time that never occurs (clocks turned forward) names the instant the
// clocks jumped, so a job set inside the gap runs once, right after it.
int64_t from_local(const TimeZone &zone, int64_t local);

} // namespace tb::schedule
