// One HTTP GET whose body is pulled by the reader, a piece at a time: libcurl's multi interface
// drives a single easy handle from read(), and the transfer is paused while more than a bounded
// amount is buffered. No helper thread, and never the whole body in memory.
#pragma once
#include "core/net/http_client.hpp"

namespace tb {

class HttpStream {
public:
	// Starts the request (nothing is sent before the first call below).
	HttpStream(const HttpSettings &settings, const HttpRequest &request);
	~HttpStream();
	HttpStream(const HttpStream &) = delete;
	HttpStream &operator=(const HttpStream &) = delete;

	// Drives the transfer until the final status and headers are in, or it failed. Returns
	// head(): its transport_error is set when no answer came.
	const HttpResponse &await_head();
	const HttpResponse &head() const { return head_; }

	// Up to cap body bytes; 0 at the end of the body or on failure (then failed() is true and
	// head().transport_error tells why). Calls after a failure return 0.
	size_t read(uint8_t *buf, size_t cap);
	bool failed() const { return !head_.transport_error.empty(); }

private:
	struct Impl;
	// Runs libcurl once, waiting up to wait_ms for network activity; false when the transfer is over.
	bool pump(int wait_ms);
	void fail(const std::string &why, bool retryable);

	std::unique_ptr<Impl> impl_;
	HttpResponse head_;
};

} // namespace tb
