#include "core/storage/s3/s3_read.hpp"

#include "core/net/http_stream.hpp"
#include "core/storage/s3/s3_client.hpp"
#include "core/storage/s3/s3_etag.hpp"
#include "core/storage/s3/s3_xml.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

constexpr size_t kMaxErrorBody = 64 << 10;

class S3ReadSource : public Source {
public:
	S3ReadSource(std::shared_ptr<const S3Config> config, std::string key, uint64_t offset)
	    : client_(std::move(config)), attempts_(client_, client_.config().max_retries), key_(std::move(key)),
	      pos_(offset) {
		open();
	}

	size_t read(uint8_t *buf, size_t cap) override {
		while (!eof_) {
			if (!stream_)
				open();
			if (eof_)
				break;
			size_t n = stream_->read(buf, cap);
			if (n > 0) {
				pos_ += n;
				attempts_.progressed(); // a later failure starts a new series of retries
				return n;
			}
			HttpResponse head = stream_->head();
			stream_.reset();
			if (!head.failed_transport() && (!has_end_ || pos_ >= end_)) {
				eof_ = true;
				break;
			}
			if (!head.failed_transport()) {
				head.transport_error = "the connection closed " + std::to_string(end_ - pos_) + " bytes early";
				head.transport_retryable = true;
			}
			attempts_.transport_failed(what(), key_, head); // resumed from pos_ by open()
		}
		return 0;
	}

private:
	std::string what() const { return pos_ ? "read from byte " + std::to_string(pos_) + " of" : "read"; }

	// GETs from pos_, retrying until a body starts coming (or the range is past the end).
	void open() {
		while (true) {
			attempts_.start(what(), key_);
			S3Request r;
			r.key = key_;
			if (pos_ > 0)
				r.headers.push_back("Range: bytes=" + std::to_string(pos_) + "-");
			if (!etag_.empty())
				r.headers.push_back("If-Match: \"" + etag_ + "\"");
			stream_ = std::make_unique<HttpStream>(client_.http_settings(), client_.http_request(r));
			HttpResponse head = stream_->await_head();
			if (head.failed_transport()) {
				stream_.reset();
				attempts_.transport_failed(what(), key_, head);
				continue;
			}
			if (head.status == 200 || head.status == 206) {
				if (head.status == 200 && pos_ > 0)
					throw Error(ErrorKind::Io, "could not " + what() + " \"" + client_.uri(key_) +
					                               "\": the server ignored the Range header");
				if (etag_.empty())
					etag_ = unquote_etag(head.header("etag"));
				std::string length = head.header("content-length");
				has_end_ = !length.empty() && length.find_first_not_of("0123456789") == std::string::npos;
				if (has_end_)
					end_ = pos_ + std::stoull(length);
				return;
			}
			if (head.status == 416) { // the offset is at or past the end: nothing to read
				stream_.reset();
				eof_ = true;
				return;
			}
			// An error answer: its body says why.
			uint8_t buf[4096];
			for (size_t n; head.body.size() < kMaxErrorBody && (n = stream_->read(buf, sizeof buf)) > 0;)
				head.body.append(reinterpret_cast<const char *>(buf), n);
			stream_.reset();
			if (head.status == 412)
				throw Error(ErrorKind::Io, "could not " + what() + " \"" + client_.uri(key_) +
				                               "\": the object was replaced while it was read");
			attempts_.answer_failed(what(), key_, head, parse_error_body(head.body).code);
		}
	}

	S3Client client_;
	S3Attempts attempts_; // consecutive failed attempts without a byte delivered
	std::string key_;
	uint64_t pos_;
	std::unique_ptr<HttpStream> stream_;
	std::string etag_;
	bool has_end_ = false, eof_ = false;
	uint64_t end_ = 0;
};

} // namespace

std::unique_ptr<Source> open_s3_read(std::shared_ptr<const S3Config> config, const std::string &key, uint64_t offset) {
	return std::make_unique<S3ReadSource>(std::move(config), key, offset);
}

} // namespace tb
