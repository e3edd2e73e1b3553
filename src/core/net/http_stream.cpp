#include "core/net/http_stream.hpp"

#include "core/error.hpp"
#include "core/net/interrupt.hpp"

#include <chrono>
#include <cstring>
#include <curl/curl.h>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

// The most body bytes held for the reader before the transfer is paused.
constexpr size_t kHighWater = 1 << 20;

using Clock = std::chrono::steady_clock;

} // namespace

struct HttpStream::Impl {
	CURL *easy = nullptr;
	CURLM *multi = nullptr;
	struct curl_slist *headers = nullptr;
	HttpResponse *head = nullptr;
	std::string url;
	long io_timeout_ms = 0;
	std::string buffer;
	size_t pos = 0; // bytes of buffer already read
	bool headers_done = false, done = false, paused = false;
	Clock::time_point last_progress;
	char error[CURL_ERROR_SIZE] = "";

	size_t buffered() const { return buffer.size() - pos; }

	static size_t on_header(char *data, size_t size, size_t count, void *user) {
		auto *impl = static_cast<Impl *>(user);
		size_t len = size * count;
		take_header_line(*impl->head, data, len);
		if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n'))
			impl->headers_done = impl->head->status >= 200; // not after "100 Continue"
		impl->last_progress = Clock::now();
		return len;
	}
	static size_t on_body(char *data, size_t size, size_t count, void *user) {
		auto *impl = static_cast<Impl *>(user);
		if (impl->buffered() >= kHighWater) {
			impl->paused = true; // libcurl keeps these bytes and hands them again on unpause
			return CURL_WRITEFUNC_PAUSE;
		}
		if (impl->pos == impl->buffer.size() || impl->pos >= kHighWater) { // drop what was read
			impl->buffer.erase(0, impl->pos);
			impl->pos = 0;
		}
		impl->buffer.append(data, size * count);
		impl->headers_done = true;
		impl->last_progress = Clock::now();
		return size * count;
	}
};

HttpStream::HttpStream(const HttpSettings &settings, const HttpRequest &request) : impl_(new Impl) {
	ensure_curl_initialized();
	impl_->head = &head_;
	impl_->io_timeout_ms = settings.io_timeout_ms;
	impl_->url = request.url;
	impl_->easy = curl_easy_init();
	impl_->multi = curl_multi_init();
	if (!impl_->easy || !impl_->multi) {
		if (impl_->easy)
			curl_easy_cleanup(impl_->easy);
		if (impl_->multi)
			curl_multi_cleanup(impl_->multi);
		throw Error(ErrorKind::Internal, "could not create a libcurl handle");
	}
	CURL *easy = impl_->easy;
	apply_http_settings(easy, settings);
	curl_easy_setopt(easy, CURLOPT_URL, impl_->url.c_str());
	if (request.method != "GET")
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
	for (const auto &h : request.headers)
		impl_->headers = curl_slist_append(impl_->headers, h.c_str());
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, impl_->headers);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, Impl::on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, impl_.get());
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Impl::on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, impl_.get());
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, impl_->error);
	curl_multi_add_handle(impl_->multi, easy);
}

HttpStream::~HttpStream() {
	curl_multi_remove_handle(impl_->multi, impl_->easy);
	curl_easy_cleanup(impl_->easy);
	curl_multi_cleanup(impl_->multi);
	curl_slist_free_all(impl_->headers);
}

void HttpStream::fail(const std::string &why, bool retryable) {
	if (head_.transport_error.empty()) {
		head_.transport_error = why;
		head_.transport_retryable = retryable;
	}
	impl_->done = true;
}

bool HttpStream::pump(int wait_ms) {
	Impl &impl = *impl_;
	if (impl.done)
		return false;
	if (interrupt_requested()) { // checked here too: libcurl's progress callback may wait a second
		fail("cancelled", false);
		head_.cancelled = true;
		return false;
	}
	if (impl.paused && impl.buffered() < kHighWater) {
		impl.paused = false;
		curl_easy_pause(impl.easy, CURLPAUSE_CONT); // may deliver the held bytes right away
	}
	int running = 0;
	CURLMcode mc = curl_multi_perform(impl.multi, &running);
	if (mc != CURLM_OK) {
		fail(curl_multi_strerror(mc), false);
		return false;
	}
	int queued = 0;
	while (CURLMsg *msg = curl_multi_info_read(impl.multi, &queued)) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		impl.done = true;
		CURLcode rc = msg->data.result;
		if (rc != CURLE_OK && head_.transport_error.empty())
			take_curl_failure(head_, rc, impl.error);
		impl.headers_done = true;
	}
	if (impl.done)
		return false;
	if (std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - impl.last_progress).count() >
	    impl.io_timeout_ms) {
		fail("no data from the server for " + std::to_string(impl.io_timeout_ms) + " ms", true);
		return false;
	}
	if (!impl.paused)
		curl_multi_poll(impl.multi, nullptr, 0, wait_ms, nullptr);
	return true;
}

const HttpResponse &HttpStream::await_head() {
	impl_->last_progress = Clock::now();
	while (!impl_->headers_done && pump(100)) {
	}
	return head_;
}

size_t HttpStream::read(uint8_t *buf, size_t cap) {
	Impl &impl = *impl_;
	impl.last_progress = Clock::now(); // time spent by the reader between calls is not a stall
	while (true) {
		if (impl.buffered() > 0) {
			size_t n = std::min(cap, impl.buffered());
			std::memcpy(buf, impl.buffer.data() + impl.pos, n);
			impl.pos += n;
			return n;
		}
		if (impl.done || !pump(100)) {
			if (impl.buffered() == 0)
				return 0;
		}
	}
}

} // namespace tb
