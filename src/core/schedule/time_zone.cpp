#include "core/schedule/time_zone.hpp"

#include <algorithm>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::schedule {

int64_t to_local(const TimeZone &zone, int64_t utc) {
	return utc + zone.utc_offset(utc);
}

int64_t from_local(const TimeZone &zone, int64_t local) {
	// The offsets a day either side cover any transition near `local` (zones change at most a
	// few times a year, and never by a day).
	constexpr int64_t kDay = 86400;
	int32_t before = zone.utc_offset(local - kDay);
	int32_t after = zone.utc_offset(local + kDay);
	int64_t first = local - before, second = local - after;
	bool first_ok = zone.utc_offset(first) == before;
	bool second_ok = zone.utc_offset(second) == after;
	if (first_ok && second_ok)
		return std::min(first, second); // an overlap (or no transition at all)
	if (first_ok)
		return first;
	if (second_ok)
		return second;
	// A gap: the clocks jumped from `before` to `after` somewhere in (lo, hi]; find that instant.
	int64_t lo = std::min(first, second), hi = std::max(first, second);
	int32_t lo_offset = zone.utc_offset(lo);
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (zone.utc_offset(mid) == lo_offset)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

} // namespace tb::schedule
