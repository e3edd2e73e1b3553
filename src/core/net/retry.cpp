#include "core/net/retry.hpp"

#include <algorithm>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

long retry_delay_ms(const RetryPolicy &policy, int retry, uint64_t random) {
	long delay = std::max(0L, policy.base_delay_ms);
	for (int i = 0; i < retry && delay < policy.max_delay_ms; i++)
		delay *= 2;
	delay = std::min(delay, std::max(0L, policy.max_delay_ms));
	long half = delay / 2;
	return half + static_cast<long>(random % static_cast<uint64_t>(delay - half + 1));
}

bool retryable_http_status(long status) {
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

} // namespace tb
