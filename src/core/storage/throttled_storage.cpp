#include "core/storage/throttled_storage.hpp"

#include "core/error.hpp"
#include "core/net/interrupt.hpp"

#include <algorithm>
#include <chrono>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

ReadRate::ReadRate(std::function<int64_t()> now_us, std::function<bool(int64_t)> sleep_us)
    : now_us_(std::move(now_us)), sleep_us_(std::move(sleep_us)) {}

ReadRate::ReadRate()
    : ReadRate(
          [] {
	          return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
	                                          std::chrono::steady_clock::now().time_since_epoch())
	                                          .count());
          },
          [](int64_t us) { return sleep_unless_interrupted(static_cast<long>((us + 999) / 1000)); }) {}

int64_t ReadRate::delay_after(uint64_t bytes, int64_t now_us) {
	if (limit_ == 0 || bytes == 0)
		return 0;
	// The time a read took itself counts, but idle time earns at most a second of credit: the
	// bytes are paid for from when the earlier ones were, or from a second ago if that is later.
	if (!started_)
		due_us_ = now_us;
	due_us_ = std::max(due_us_, now_us - kCreditUs);
	started_ = true;
	due_us_ += static_cast<int64_t>(static_cast<long double>(bytes) * 1e6L / static_cast<long double>(limit_));
	return due_us_ - now_us;
}

void ReadRate::consumed(uint64_t bytes) {
	int64_t wait = delay_after(bytes, now_us_());
	if (wait > 0 && !sleep_us_(wait))
		throw Error(ErrorKind::Cancelled, "canceled while waiting for the read rate limit");
}

size_t ThrottledSource::read(uint8_t *buf, size_t cap) {
	size_t n = inner_->read(buf, cap);
	rate_->consumed(n);
	return n;
}

} // namespace tb
