// A repository in an S3 bucket (AWS, or any store with its API: MinIO, Ceph RGW, Swift s3api),
// under a key prefix: object "a/b" of repository s3://bucket/prefix is key "prefix/a/b".
//
// Writes are multipart uploads (s3_write.hpp): parts are invisible until publish(), and an
// unpublished writer aborts its upload when destroyed. A process killed before that leaves an
// incomplete multipart upload, which S3 never lists as an object: list_temporaries() therefore
// returns nothing (S3 keeps no tag with an upload, and an upload's key is the final name, which
// a caller must never remove). Such uploads are found with list_uploads() and removed with
// abort_upload(), or by a bucket lifecycle rule (AbortIncompleteMultipartUpload), which we
// recommend.
//
// Reads stream (s3_read.hpp). size/exists are HEAD requests; remove is a HEAD (to tell whether
// the object existed: S3's DELETE answers 204 either way) then a DELETE. Every request is signed
// with SigV4 by libcurl and retried on throttling, server errors and dropped connections.
// A 403 is ErrorKind::PermissionDenied, a 404 ErrorKind::NotFound. A missing bucket says so,
// also for HEAD requests (size, exists, remove): their 404 carries no error code, so a HEAD of
// the bucket follows it to tell a missing bucket from a missing object.
// Without s3:ListBucket permission S3 answers 403 for a missing key, which exists() reports as
// an error rather than false.
#pragma once
#include "core/storage/s3/s3_client.hpp"
#include "core/storage/s3/s3_config.hpp"
#include "core/storage/storage.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tb {

class S3Storage : public Storage {
public:
	// Throws InvalidInput if the configuration is unusable (check_s3_config). Sends nothing.
	explicit S3Storage(S3Config config);

	std::unique_ptr<WriteObject> open_write(const std::string &name, const std::string &tag) override;
	std::unique_ptr<Source> open_read(const std::string &name, uint64_t offset = 0) override;
	uint64_t size(const std::string &name) override;
	bool remove(const std::string &name) override;
	bool exists(const std::string &name) override;
	std::vector<ObjectInfo> list(const std::string &prefix) override;
	// Always empty; see above.
	std::vector<TemporaryObject> list_temporaries() override { return {}; }
	// "s3://bucket/prefix/name"; never credentials.
	std::string describe(const std::string &name) const override;

	// Incomplete multipart uploads under the repository's prefix.
	std::vector<IncompleteUpload> list_incomplete_uploads() override;
	void abort_incomplete_upload(const IncompleteUpload &upload) override;

	const S3Config &config() const { return *config_; }

private:
	std::string key(const std::string &name) const;
	std::string key_prefix() const; // "prefix/" or ""

	std::shared_ptr<const S3Config> config_;
	// For the storage's own requests; writers and readers have their own connections.
	std::mutex mutex_;
	S3Client client_;
};

// The driver from a repository URL and named options (see set_s3_option), plus two options of
// its own: credentials_file (read with load_s3_credentials_file) and credentials_profile
// (default "default"). Without credentials_file the credentials come from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
std::unique_ptr<S3Storage> open_s3_storage(const std::string &url,
                                           const std::vector<std::pair<std::string, std::string>> &options);

} // namespace tb
