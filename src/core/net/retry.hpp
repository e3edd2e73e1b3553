// How long to wait before the next attempt of a failed request: exponential backoff with jitter,
// so that many clients throttled at once (HTTP 503 SlowDown) do not come back in step.
#pragma once
#include <cstdint>

namespace tb {

struct RetryPolicy {
	int max_retries = 4;      // attempts after the first
	long base_delay_ms = 200; // the first wait, at most
	long max_delay_ms = 5000; // no wait is longer
};

// The wait before retry number `retry` (0 for the first retry): a uniformly drawn value in
// [d/2, d] where d = min(max_delay, base_delay * 2^retry). `random` is any 64-bit random number.
long retry_delay_ms(const RetryPolicy &policy, int retry, uint64_t random);

// Whether an HTTP status is worth another attempt: throttling and server-side failures.
bool retryable_http_status(long status);

} // namespace tb
