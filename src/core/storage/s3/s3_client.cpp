#include "core/storage/s3/s3_client.hpp"

#include "core/net/interrupt.hpp"
#include "core/net/uri.hpp"
#include "core/storage/s3/s3_etag.hpp"
#include "core/storage/s3/s3_xml.hpp"
#include "core/stream/sha256.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

// SHA-256 of the body, in hex: S3 requires x-amz-content-sha256 and libcurl 7.88 signs with the
// value it is given, so the body is covered by the signature too.
std::string payload_hash(const uint8_t *body, size_t size) {
	Sha256 hash;
	if (size)
		hash.update(body, size);
	return hash.hex_digest();
}

bool credentials_refused(const std::string &code) {
	return code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" || code == "InvalidToken" ||
	       code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "InvalidSecurity";
}

} // namespace

bool retryable_s3_answer(long status, const std::string &code) {
	if (code == "RequestTimeTooSkewed")
		return false;
	if (code == "RequestTimeout" || code == "InternalError" || code == "SlowDown" || code == "ServiceUnavailable" ||
	    code == "Throttling" || code == "ThrottlingException" || code == "RequestThrottled")
		return true;
	return retryable_http_status(status);
}

RetryPolicy s3_retry_policy(const S3Config &c) {
	return RetryPolicy{c.max_retries, c.retry_base_delay_ms, c.retry_max_delay_ms};
}

std::string s3_status_detail(const HttpResponse &r) {
	S3ErrorBody e = parse_error_body(r.body);
	std::string detail = "HTTP " + std::to_string(r.status);
	if (!e.code.empty())
		detail += " " + e.code;
	if (!e.message.empty())
		detail += ": " + e.message;
	return detail;
}

S3Client::S3Client(std::shared_ptr<const S3Config> config)
    : config_(std::move(config)), http_(http_settings()), random_(std::random_device{}()) {}

HttpSettings S3Client::http_settings() const {
	HttpSettings s;
	s.aws_sigv4 = "aws:amz:" + config_->region + ":s3";
	s.username = config_->credentials.access_key_id;
	s.password = config_->credentials.secret_access_key;
	s.ca_file = config_->ca_file;
	s.verify_tls = config_->verify_tls;
	s.connect_timeout_ms = config_->connect_timeout_ms;
	s.io_timeout_ms = config_->io_timeout_ms;
	return s;
}

std::string S3Client::uri(const std::string &key) const {
	return "s3://" + config_->bucket + "/" + key;
}

HttpRequest S3Client::http_request(const S3Request &r) const {
	std::string endpoint = s3_endpoint(*config_);
	std::string url;
	if (config_->path_style) {
		url = endpoint + "/" + config_->bucket + (r.key.empty() ? "" : "/" + uri_encode(r.key, true));
	} else {
		size_t host = endpoint.find("://") + 3;
		url = endpoint.substr(0, host) + config_->bucket + "." + endpoint.substr(host) + "/" + uri_encode(r.key, true);
	}
	if (!r.query.empty())
		url += "?" + r.query;
	HttpRequest req;
	req.method = r.method;
	req.url = url;
	req.headers = r.headers;
	req.headers.push_back("x-amz-content-sha256: " + payload_hash(r.body, r.body_size));
	if (!config_->credentials.session_token.empty())
		req.headers.push_back("x-amz-security-token: " + config_->credentials.session_token);
	req.body = r.body;
	req.body_size = r.body_size;
	return req;
}

void S3Client::backoff(int retry, const std::string &operation, const std::string &key) {
	long ms = retry_delay_ms(s3_retry_policy(*config_), retry, random_());
	if (!sleep_unless_interrupted(ms))
		throw cancelled_error(operation, key);
}

Error S3Client::cancelled_error(const std::string &operation, const std::string &key) {
	was_cancelled_ = true;
	return Error(ErrorKind::Cancelled, "could not " + operation + " \"" + uri(key) + "\": cancelled");
}

void S3Attempts::start(const std::string &operation, const std::string &key) {
	if (interrupt_requested())
		throw client_.cancelled_error(operation, key);
}

void S3Attempts::transport_failed(const std::string &operation, const std::string &key, const HttpResponse &response) {
	if (response.cancelled)
		throw client_.cancelled_error(operation, key);
	if (!response.transport_retryable || failures_ >= max_retries_)
		throw client_.transport_error_for(operation, key, response, failures_ + 1);
	client_.backoff(failures_++, operation, key);
}

void S3Attempts::answer_failed(const std::string &operation, const std::string &key, const HttpResponse &response,
                               const std::string &code) {
	if (retryable_s3_answer(response.status, code) && failures_ < max_retries_) {
		client_.backoff(failures_++, operation, key);
		return;
	}
	Error e = client_.error_for(operation, key, response);
	if (failures_ == 0)
		throw e;
	throw Error(e.kind(), std::string(e.what()) + " (after " + std::to_string(failures_ + 1) + " attempts)");
}

HttpResponse S3Client::call(const std::string &operation, const S3Request &request,
                            std::initializer_list<long> accept) {
	HttpRequest req = http_request(request);
	const std::string &subject = request.subject.empty() ? request.key : request.subject;
	S3Attempts attempts(*this, request.single_attempt ? 0 : config_->max_retries);
	while (true) {
		attempts_ = attempts.attempt();
		attempts.start(operation, subject);
		HttpResponse response = http_.perform(req);
		if (response.failed_transport()) {
			attempts.transport_failed(operation, subject, response);
			continue;
		}
		bool ok = response.status >= 200 && response.status < 300;
		// Error bodies are parsed only where they are expected (a listing may be megabytes).
		std::string code = !ok || request.error_in_ok_answer ? parse_error_body(response.body).code : "";
		if (ok && code.empty())
			return response;
		for (long s : accept)
			if (s == response.status)
				return response;
		attempts.answer_failed(operation, subject, response, code);
	}
}

namespace {

// Whether the configured bucket is missing: HEAD of the bucket itself, sent only after a HEAD of
// an object answered 404 (which carries no error code to tell a missing bucket from a missing key).
bool bucket_missing(S3Client &client, const std::string &operation) {
	S3Request r;
	r.method = "HEAD";
	return client.call(operation, r, {301, 400, 403, 404, 405}).status == 404;
}

} // namespace

S3Head s3_head(S3Client &client, const std::string &operation, const std::string &key) {
	S3Request r;
	r.method = "HEAD";
	r.key = key;
	HttpResponse response = client.call(operation, r, {404});
	S3Head head;
	if (response.status == 404) {
		if (bucket_missing(client, operation))
			throw Error(ErrorKind::NotFound, "could not " + operation + " \"" + client.uri(key) + "\": bucket \"" +
			                                     client.config().bucket + "\" does not exist");
		return head;
	}
	head.exists = true;
	std::string length = response.header("content-length");
	if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos)
		throw Error(ErrorKind::Io,
		            "could not " + operation + " \"" + client.uri(key) + "\": the answer has no valid Content-Length");
	head.size = std::stoull(length);
	head.etag = unquote_etag(response.header("etag"));
	return head;
}

Error S3Client::error_for(const std::string &operation, const std::string &key, const HttpResponse &r) const {
	std::string what = "could not " + operation + " \"" + uri(key) + "\": ";
	std::string detail = s3_status_detail(r);
	S3ErrorBody e = parse_error_body(r.body);
	if (r.status == 403 && e.code.empty()) // which of the two S3 does not say
		return Error(ErrorKind::PermissionDenied,
		             what + "access denied (HTTP 403; a HEAD response carries no error code: wrong credentials or "
		                    "missing permission)");
	if (r.status == 403 && credentials_refused(e.code))
		return Error(ErrorKind::PermissionDenied, what + "S3 refused the credentials (" + detail + ")");
	if (e.code == "RequestTimeTooSkewed")
		return Error(ErrorKind::PermissionDenied,
		             what + "S3 refused the request's time: this server's clock is off (" + detail + ")");
	if (r.status == 403)
		return Error(ErrorKind::PermissionDenied, what + "S3 denied access (" + detail + ")");
	if (r.status == 404 && e.code == "NoSuchBucket")
		return Error(ErrorKind::NotFound, what + "bucket \"" + config_->bucket + "\" does not exist (" + detail + ")");
	if (r.status == 404 && e.code == "NoSuchUpload")
		return Error(ErrorKind::NotFound,
		             what + "the multipart upload no longer exists, e.g. aborted by a lifecycle rule (" + detail + ")");
	if (r.status == 404)
		return Error(ErrorKind::NotFound, what + "no such object (" + detail + ")");
	return Error(ErrorKind::Io, what + detail);
}

Error S3Client::transport_error_for(const std::string &operation, const std::string &key, const HttpResponse &r,
                                    int attempts) const {
	return Error(ErrorKind::Io, "could not " + operation + " \"" + uri(key) + "\" at " + s3_endpoint(*config_) + ": " +
	                                r.transport_error + " (after " + std::to_string(attempts) + " attempt" +
	                                (attempts == 1 ? "" : "s") + ")");
}

} // namespace tb
