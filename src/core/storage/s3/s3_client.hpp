// Requests to one S3 bucket: URLs (path-style or virtual-hosted), the payload hash header that
// SigV4 needs (libcurl signs), retries with backoff for throttling, server errors and dropped
// connections, and errors that name the operation, the object and S3's error code - never the
// credentials. Not thread-safe: each user owns one.
#pragma once
#include "core/error.hpp"
#include "core/net/http_client.hpp"
#include "core/net/retry.hpp"
#include "core/storage/s3/s3_config.hpp"

#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tb {

struct S3Request {
	std::string method = "GET";
	std::string key;   // the object's full key; "" for the bucket itself
	std::string query; // already canonical (canonical_query)
	std::vector<std::string> headers;
	const uint8_t *body = nullptr; // kept alive by the caller across retries
	size_t body_size = 0;
	std::string subject; // the key messages name when it is not `key` (a listing's prefix)
	// CompleteMultipartUpload may answer 200 and then report a failure in an <Error> body (S3
	// sends the status before it has finished): such an answer is an error, classified by its code.
	bool error_in_ok_answer = false;
	bool single_attempt = false; // no retries: a best-effort cleanup after a cancel
};

// What a HEAD request tells about an object.
struct S3Head {
	bool exists = false;
	uint64_t size = 0;
	std::string etag; // without quotes
};

class S3Client {
public:
	explicit S3Client(std::shared_ptr<const S3Config> config);

	// Sends the request, retrying transport failures and retryable answers by the driver's one
	// retry policy (S3Attempts). Returns the answer when its status is 2xx or one of `accept`;
	// otherwise throws the Error it means. Checks interrupt_requested() before each attempt,
	// during it and while backing off: then throws cancelled_error, without another attempt.
	HttpResponse call(const std::string &operation, const S3Request &request, std::initializer_list<long> accept = {});
	// How many attempts the last call() made (1: it was not retried).
	int attempts() const { return attempts_; }
	// Whether a call() or backoff() of this client was stopped by interrupt_requested(), on
	// whichever thread: the cancel may have been taken, and its flag cleared, since.
	bool was_cancelled() const { return was_cancelled_; }

	// The request as sent (URL, signing headers), for callers that stream the answer themselves.
	HttpRequest http_request(const S3Request &request) const;
	HttpSettings http_settings() const;
	std::string uri(const std::string &key) const; // s3://bucket/key, for messages
	const S3Config &config() const { return *config_; }
	const std::shared_ptr<const S3Config> &shared_config() const { return config_; }

	// Sleeps before retry number `retry` (0-based); throws cancelled_error if an interrupt is
	// requested meanwhile.
	void backoff(int retry, const std::string &operation, const std::string &key);
	// The error of an operation stopped by interrupt_requested(): ErrorKind::Cancelled. Notes
	// that this client was cancelled (was_cancelled()).
	Error cancelled_error(const std::string &operation, const std::string &key);
	// The error a final non-2xx answer means.
	Error error_for(const std::string &operation, const std::string &key, const HttpResponse &response) const;
	// A final transport failure.
	Error transport_error_for(const std::string &operation, const std::string &key, const HttpResponse &response,
	                          int attempts) const;

private:
	std::shared_ptr<const S3Config> config_;
	HttpClient http_;
	std::mt19937_64 random_;
	int attempts_ = 0;
	bool was_cancelled_ = false;
};

// The S3 driver's one retry policy, for every loop of attempts (S3Client::call, the streaming
// read's GETs and resumptions): up to max_retries attempts after the first, a backoff before
// each (s3_retry_policy), retried only transport failures marked retryable and retryable answers
// (retryable_s3_answer), never a cancel. The final error names the operation and the object and,
// after retries, how many attempts were made.
class S3Attempts {
public:
	S3Attempts(S3Client &client, int max_retries) : client_(client), max_retries_(max_retries) {}
	// Before each attempt: throws cancelled_error if an interrupt is requested.
	void start(const std::string &operation, const std::string &key);
	// After an attempt whose transport failed (response.failed_transport()): returns after the
	// backoff if another attempt is to be made, otherwise throws the error that ends the operation.
	void transport_failed(const std::string &operation, const std::string &key, const HttpResponse &response);
	// After an answer the caller does not take, with its S3 error code (maybe ""): the same.
	void answer_failed(const std::string &operation, const std::string &key, const HttpResponse &response,
	                   const std::string &code);
	// Progress was made (a read received bytes): the next failure starts a new series.
	void progressed() { failures_ = 0; }
	// The number of the attempt being made, from 1.
	int attempt() const { return failures_ + 1; }

private:
	S3Client &client_;
	int max_retries_;
	int failures_ = 0; // failed attempts in this series
};

// HEAD of an object: exists is false on 404, unless the bucket is missing (NotFound naming the
// bucket); any other failure throws.
S3Head s3_head(S3Client &client, const std::string &operation, const std::string &key);

// Whether an S3 error answer is worth another attempt, by its status and, as S3 uses 400 and 403
// for some passing conditions, by its <Code>: throttling (429, 503 SlowDown), server failures
// (500 InternalError, 502, 503, 504) and 400 RequestTimeout (the server waited too long for our
// bytes). Never 403 RequestTimeTooSkewed (our clock is off: another attempt meets the same fate).
bool retryable_s3_answer(long status, const std::string &error_code);

// The RetryPolicy of a configuration.
RetryPolicy s3_retry_policy(const S3Config &config);

// "s3://bucket/key" style message for an answer: "HTTP 403 SignatureDoesNotMatch: <message>".
std::string s3_status_detail(const HttpResponse &response);

} // namespace tb
