#include "core/net/http_client.hpp"

#include "core/error.hpp"
#include "core/net/interrupt.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <curl/curl.h>
#include <mutex>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

struct Transfer {
	const HttpRequest *request;
	HttpResponse *response;
	size_t max_body;
	size_t sent = 0;
	bool too_large = false;
};

size_t on_header(char *data, size_t size, size_t count, void *user) {
	take_header_line(*static_cast<Transfer *>(user)->response, data, size * count);
	return size * count;
}

size_t on_body(char *data, size_t size, size_t count, void *user) {
	auto *t = static_cast<Transfer *>(user);
	size_t len = size * count;
	if (t->response->body.size() + len > t->max_body) {
		t->too_large = true;
		return 0; // aborts the transfer
	}
	t->response->body.append(data, len);
	return len;
}

// Feeds the request body; curl may rewind it (a redirect, an auth retry) through on_seek.
size_t on_read(char *buf, size_t size, size_t count, void *user) {
	auto *t = static_cast<Transfer *>(user);
	size_t n = std::min(size * count, t->request->body_size - t->sent);
	if (n)
		std::memcpy(buf, t->request->body + t->sent, n);
	t->sent += n;
	return n;
}

int on_seek(void *user, curl_off_t offset, int origin) {
	auto *t = static_cast<Transfer *>(user);
	if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->request->body_size)
		return CURL_SEEKFUNC_FAIL;
	t->sent = static_cast<size_t>(offset);
	return CURL_SEEKFUNC_OK;
}

// Called by libcurl at least about once a second, also while nothing moves; non-zero aborts the
// transfer with CURLE_ABORTED_BY_CALLBACK.
int on_progress(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
	return interrupt_requested() ? 1 : 0;
}

} // namespace

std::string HttpResponse::header(const std::string &name) const {
	for (const auto &h : headers)
		if (h.first == name)
			return h.second;
	return std::string();
}

void ensure_curl_initialized() {
	static std::once_flag once;
	static CURLcode rc = CURLE_OK;
	std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
	if (rc != CURLE_OK)
		throw Error(ErrorKind::Internal, std::string("could not initialise libcurl: ") + curl_easy_strerror(rc));
}

void apply_http_settings(void *handle, const HttpSettings &s) {
	CURL *curl = static_cast<CURL *>(handle);
	// No signals: we run inside PostgreSQL backends and next to other threads.
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, s.connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, s.verify_tls ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, s.verify_tls ? 2L : 0L);
	if (!s.ca_file.empty())
		curl_easy_setopt(curl, CURLOPT_CAINFO, s.ca_file.c_str());
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	if (!s.aws_sigv4.empty()) {
		curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, s.aws_sigv4.c_str());
		curl_easy_setopt(curl, CURLOPT_USERNAME, s.username.c_str());
		curl_easy_setopt(curl, CURLOPT_PASSWORD, s.password.c_str());
	}
}

bool curl_code_retryable(int code) {
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

void take_curl_failure(HttpResponse &r, int code, const char *error) {
	if (code == CURLE_ABORTED_BY_CALLBACK) { // only on_progress aborts so
		r.transport_error = "cancelled";
		r.cancelled = true;
		r.transport_retryable = false;
		return;
	}
	r.transport_error = error && error[0] ? error : curl_easy_strerror(static_cast<CURLcode>(code));
	r.transport_retryable = curl_code_retryable(code);
}

void take_header_line(HttpResponse &r, const char *data, size_t len) {
	std::string line(data, len);
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
		line.pop_back();
	if (line.compare(0, 5, "HTTP/") == 0) {
		r.headers.clear();
		size_t sp = line.find(' ');
		r.status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
		return;
	}
	size_t colon = line.find(':');
	if (colon == std::string::npos)
		return;
	std::string name = line.substr(0, colon);
	std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
	size_t v = line.find_first_not_of(" \t", colon + 1);
	r.headers.emplace_back(name, v == std::string::npos ? std::string() : line.substr(v));
}

struct HttpClient::Impl {
	HttpSettings settings;
	CURL *curl = nullptr;
	// CURLOPT_ERRORBUFFER stays registered with the handle until the next reset, so it lives as
	// long as the handle does.
	char error[CURL_ERROR_SIZE] = "";
};

HttpClient::HttpClient(HttpSettings settings) : impl_(new Impl) {
	ensure_curl_initialized();
	impl_->settings = std::move(settings);
	impl_->curl = curl_easy_init();
	if (!impl_->curl)
		throw Error(ErrorKind::Internal, "could not create a libcurl handle");
}

HttpClient::~HttpClient() {
	curl_easy_cleanup(impl_->curl);
}

HttpResponse HttpClient::perform(const HttpRequest &req, size_t max_body) {
	CURL *curl = impl_->curl;
	HttpResponse response;
	Transfer t{&req, &response, max_body};
	// A reset handle keeps its connections and TLS sessions, and forgets the last request.
	curl_easy_reset(curl);
	apply_http_settings(curl, impl_->settings);
	// A transfer fails when fewer than 1 byte/s moved during the I/O timeout (whole seconds).
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, std::max(1L, (impl_->settings.io_timeout_ms + 999) / 1000));
	curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
	if (req.method == "HEAD") {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else if (req.method == "PUT" || req.method == "POST") {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(curl, CURLOPT_READDATA, &t);
		curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_size));
		if (req.method == "POST")
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
	} else if (req.method != "GET") {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
	}
	struct curl_slist *headers = nullptr;
	for (const auto &h : req.headers)
		headers = curl_slist_append(headers, h.c_str());
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	char *error = impl_->error;
	error[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	CURLcode rc = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr); // the handle must not keep a freed list
	curl_slist_free_all(headers);
	if (t.too_large) {
		response.transport_error = "the answer is larger than " + std::to_string(max_body) + " bytes";
	} else if (rc != CURLE_OK) {
		take_curl_failure(response, rc, error);
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
	}
	return response;
}

} // namespace tb
