#include "core/storage/s3/s3_write.hpp"

#include "core/net/interrupt.hpp"
#include "core/net/uri.hpp"
#include "core/storage/s3/s3_client.hpp"
#include "core/storage/s3/s3_etag.hpp"
#include "core/storage/s3/s3_listing.hpp"
#include "core/storage/s3/s3_xml.hpp"

#include <vector>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

constexpr int kMaxParts = 10000; // S3's limit

class S3WriteObject : public WriteObject {
public:
	S3WriteObject(std::shared_ptr<const S3Config> config, std::string name, std::string key)
	    : client_(std::move(config)), name_(std::move(name)), key_(std::move(key)) {}

	~S3WriteObject() override {
		if (upload_id_.empty() || published_)
			return;
		try {
			// After a cancel (often why we are here) still one attempt, not cut by the pending
			// interrupt, or the parts would stay until a lifecycle rule removes them. The cancel
			// may already be taken (its flag cleared) when a request of ours was stopped by it.
			bool cancelled = interrupt_requested() || client_.was_cancelled();
			IgnoreInterrupts ignore;
			abort_upload(upload_id_, cancelled);
		} catch (...) {
			// Never throw from a destructor; the bucket's lifecycle rule is the last resort.
		}
	}

	void write(const uint8_t *data, size_t len) override {
		if (finished_)
			throw Error(ErrorKind::Internal, "write after finish on " + client_.uri(key_));
		const size_t part_size = client_.config().part_size;
		while (len > 0) {
			size_t n = std::min(len, part_size - part_.size());
			if (part_.size() + n > part_.capacity()) // grow to one part at most, never past it
				part_.reserve(std::min(part_size, std::max(part_.capacity() * 2, part_.size() + n)));
			part_.insert(part_.end(), data, data + n);
			data += n;
			len -= n;
			total_ += n;
			if (part_.size() == part_size)
				upload_part();
		}
	}

	void finish() override {
		if (finished_)
			return;
		if (!upload_id_.empty() && !part_.empty())
			upload_part();
		finished_ = true;
	}

	void publish() override {
		if (published_)
			return;
		finish();
		std::string expected;
		if (upload_id_.empty()) {
			expected = put_whole();
		} else {
			complete_upload();
			expected = multipart_etag(part_md5s_);
		}
		published_ = true;
		std::vector<uint8_t>().swap(part_);
		confirm(expected);
	}

	const std::string &name() const override { return name_; }

private:
	std::vector<std::string> storage_class_header() const {
		if (client_.config().storage_class.empty())
			return {};
		return {"x-amz-storage-class: " + client_.config().storage_class};
	}

	void start_upload() {
		S3Request r;
		r.method = "POST";
		r.key = key_;
		r.query = canonical_query({{"uploads", ""}});
		r.headers = storage_class_header();
		upload_id_ = parse_upload_id(client_.call("start the upload of", r).body);
		if (client_.attempts() > 1)
			abort_duplicate_uploads();
	}

	// A retried CreateMultipartUpload may have created an upload whose answer was lost: one more
	// upload of our key that nobody would ever complete or abort. The key ends in a name chosen
	// for this writer, so every other upload of exactly this key is such a duplicate. Best effort:
	// a duplicate holds no parts, and a lifecycle rule or backup_repository_check finds it.
	void abort_duplicate_uploads() {
		try {
			for (const auto &u : s3_list_uploads(client_, key_))
				if (u.key == key_ && u.upload_id != upload_id_)
					abort_upload(u.upload_id);
		} catch (const Error &e) {
			if (e.kind() == ErrorKind::Cancelled)
				throw;
		}
	}

	void upload_part() {
		if (upload_id_.empty())
			start_upload();
		int number = static_cast<int>(part_md5s_.size()) + 1;
		if (number > kMaxParts)
			throw Error(ErrorKind::InvalidInput, "could not write \"" + client_.uri(key_) + "\": larger than " +
			                                         std::to_string(kMaxParts) + " parts of " +
			                                         std::to_string(client_.config().part_size) +
			                                         " bytes; raise the S3 option part_size");
		Md5Digest md5 = md5_of(part_.data(), part_.size());
		S3Request r;
		r.method = "PUT";
		r.key = key_;
		r.query = canonical_query({{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}});
		// Content-MD5 makes S3 reject a part damaged on the way (400 BadDigest).
		r.headers.push_back("Content-MD5: " + base64_of(md5.data(), md5.size()));
		r.body = part_.data();
		r.body_size = part_.size();
		std::string what = "upload part " + std::to_string(number) + " of";
		std::string etag = unquote_etag(client_.call(what, r).header("etag"));
		if (client_.config().verify_etag && etag != hex_of(md5.data(), md5.size()))
			throw Error(ErrorKind::Corrupt, "could not " + what + " \"" + client_.uri(key_) +
			                                    "\": S3 answered ETag \"" + etag + "\" for a part whose MD5 is " +
			                                    hex_of(md5.data(), md5.size()));
		part_etags_.push_back(etag);
		part_md5s_.push_back(md5);
		part_.clear();
	}

	// Returns the ETag the object should have.
	std::string put_whole() {
		Md5Digest md5 = md5_of(part_.data(), part_.size());
		S3Request r;
		r.method = "PUT";
		r.key = key_;
		r.headers = storage_class_header();
		r.headers.push_back("Content-MD5: " + base64_of(md5.data(), md5.size()));
		r.body = part_.data();
		r.body_size = part_.size();
		client_.call("write", r);
		return single_put_etag(md5);
	}

	void complete_upload() {
		std::string xml = "<CompleteMultipartUpload>";
		for (size_t i = 0; i < part_etags_.size(); i++)
			xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" + xml_escape(part_etags_[i]) +
			       "\"</ETag></Part>";
		xml += "</CompleteMultipartUpload>";
		S3Request r;
		r.method = "POST";
		r.key = key_;
		r.query = canonical_query({{"uploadId", upload_id_}});
		r.headers.push_back("Content-Type: application/xml");
		r.body = reinterpret_cast<const uint8_t *>(xml.data());
		r.body_size = xml.size();
		r.error_in_ok_answer = true;
		const std::string what = "complete the upload of";
		// call() retries on its own; no second loop here.
		HttpResponse response = client_.call(what, r, {404});
		if (response.status == 404) {
			// After a retry: an earlier attempt completed the upload but its answer was lost.
			// confirm() then checks the object (size, and ETag) by HEAD.
			if (client_.attempts() > 1 && parse_error_body(response.body).code == "NoSuchUpload")
				return;
			throw client_.error_for(what, key_, response);
		}
	}

	void confirm(const std::string &expected_etag) {
		S3Head head = s3_head(client_, "confirm", key_);
		std::string problem;
		if (!head.exists)
			problem = "the object is missing after it was written";
		else if (head.size != total_)
			problem =
			    "its size is " + std::to_string(head.size) + " bytes, not the " + std::to_string(total_) + " written";
		else if (client_.config().verify_etag && head.etag != expected_etag)
			problem =
			    "its ETag is \"" + head.etag + "\", not \"" + expected_etag + "\" as computed from what was written";
		if (problem.empty())
			return;
		if (head.exists) {
			try {
				S3Request r;
				r.method = "DELETE";
				r.key = key_;
				client_.call("remove", r, {404});
			} catch (const Error &) {
				// The confirmation error below matters more.
			}
		}
		throw Error(ErrorKind::Corrupt,
		            "S3 object \"" + client_.uri(key_) + "\" does not match what was written: " + problem);
	}

	void abort_upload(const std::string &upload_id, bool single_attempt = false) {
		S3Request r;
		r.single_attempt = single_attempt;
		r.method = "DELETE";
		r.key = key_;
		r.query = canonical_query({{"uploadId", upload_id}});
		client_.call("abort the upload of", r, {404});
	}

	S3Client client_;
	std::string name_, key_;
	std::vector<uint8_t> part_; // the part being filled (all of a small object)
	uint64_t total_ = 0;
	std::string upload_id_;
	std::vector<std::string> part_etags_;
	std::vector<Md5Digest> part_md5s_;
	bool finished_ = false, published_ = false;
};

} // namespace

std::unique_ptr<WriteObject> open_s3_write(std::shared_ptr<const S3Config> config, const std::string &name,
                                           const std::string &key) {
	return std::make_unique<S3WriteObject>(std::move(config), name, key);
}

} // namespace tb
