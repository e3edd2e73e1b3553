// A thin wrapper of one libcurl easy handle: one request at a time, the response body kept in
// memory (bounded), connections kept alive between requests. Not thread-safe: each user owns one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tb {

struct HttpSettings {
	std::string aws_sigv4; // CURLOPT_AWS_SIGV4, e.g. "aws:amz:us-east-1:s3"; empty: no signing
	std::string username;  // access key id (may hold ':', so never CURLOPT_USERPWD)
	std::string password;  // secret key
	std::string ca_file;
	bool verify_tls = true;
	long connect_timeout_ms = 10000;
	long io_timeout_ms = 60000; // an attempt fails when no byte moves for this long
};

struct HttpRequest {
	std::string method = "GET"; // GET, HEAD, PUT, POST or DELETE
	std::string url;
	std::vector<std::string> headers; // "Name: value"
	// PUT and POST body; the caller keeps it alive and unchanged until perform returns.
	const uint8_t *body = nullptr;
	size_t body_size = 0;
};

struct HttpResponse {
	// Empty when an HTTP answer came; otherwise why not (connection refused, timeout, TLS...).
	std::string transport_error;
	bool transport_retryable = false;
	bool cancelled = false; // stopped because interrupt_requested() (then transport_error is set)
	long status = 0;
	std::vector<std::pair<std::string, std::string>> headers; // names in lower case
	std::string body;
	bool failed_transport() const { return !transport_error.empty(); }
	// The value of the first header of that (lower-case) name, or "".
	std::string header(const std::string &name) const;
};

// Sets up libcurl once per process (curl_global_init is not safe to call concurrently).
void ensure_curl_initialized();

// Settings shared by HttpClient and HttpStream: signing, TLS, timeouts, and a progress callback
// that aborts the transfer when interrupt_requested(); CURL* is a void* here so that callers need
// no curl header.
void apply_http_settings(void *curl, const HttpSettings &settings);
// Whether a libcurl result code describes a failure that another attempt may not meet.
bool curl_code_retryable(int code);
// Records a failed transfer's libcurl result in the response (cancelled, or why and whether
// another attempt may do better); `error` is curl's error buffer.
void take_curl_failure(HttpResponse &response, int code, const char *error);

// Parses one response header line into response (status lines reset it, for 100 Continue).
void take_header_line(HttpResponse &response, const char *line, size_t len);

class HttpClient {
public:
	explicit HttpClient(HttpSettings settings);
	~HttpClient();
	HttpClient(const HttpClient &) = delete;
	HttpClient &operator=(const HttpClient &) = delete;

	// Sends the request and waits for the whole answer. Never throws for network or HTTP
	// failures: they are in the response. A body over max_body bytes is a transport error.
	HttpResponse perform(const HttpRequest &request, size_t max_body = 16 << 20);

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace tb
