// Which S3 answers are retried, and the writer's request sequences around retries, against a
// fake S3 (test/unit/fake_s3.hpp): one bounded loop for CompleteMultipartUpload, an upload
// completed by an attempt whose answer was lost, and a duplicate upload left by a retried create.
#include "core/storage/s3/s3_client.hpp"
#include "core/storage/s3/s3_storage.hpp"

#include "fake_s3.hpp"
#include "test_support.hpp"

using namespace tbtest;
using tb::ErrorKind;

namespace {

tb::S3Config fake_config(const std::string &url, int max_retries = 2) {
	tb::S3Config c = tb::parse_s3_url("s3://bkt/pre");
	c.endpoint = url;
	c.path_style = true;
	c.credentials = {"AKID", "SECRET", ""};
	c.part_size = tb::kS3MinPartSize;
	c.max_retries = max_retries;
	c.retry_base_delay_ms = 1;
	c.retry_max_delay_ms = 2;
	c.io_timeout_ms = 5000;
	return c;
}

// Two parts: a full one and 10 bytes.
const std::string &two_parts() {
	static const std::string data = random_bytes(tb::kS3MinPartSize + 10, 11);
	return data;
}

// publish() must fail with an error of this kind whose message holds every one of `texts`.
void expect_publish_fails(tb::WriteObject &w, ErrorKind kind, std::initializer_list<const char *> texts) {
	try {
		w.publish();
		ADD_FAILURE() << "published";
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), kind) << e.what();
		for (const char *text : texts)
			EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
	}
}

void write_all(tb::WriteObject &w, const std::string &data) {
	w.write(bytes_of(data), data.size());
	w.finish();
}

FakeAnswer error_answer(int status, const std::string &code) {
	FakeAnswer a;
	a.status = status;
	a.body = s3_error_xml(code, "injected");
	return a;
}

TEST(S3RetryClass, ByStatusAndByS3ErrorCode) {
	EXPECT_TRUE(tb::retryable_s3_answer(400, "RequestTimeout"));
	EXPECT_TRUE(tb::retryable_s3_answer(500, "InternalError"));
	EXPECT_TRUE(tb::retryable_s3_answer(503, "SlowDown"));
	EXPECT_TRUE(tb::retryable_s3_answer(503, ""));
	EXPECT_TRUE(tb::retryable_s3_answer(429, ""));
	EXPECT_TRUE(tb::retryable_s3_answer(200, "InternalError")); // CompleteMultipartUpload's late error
	EXPECT_FALSE(tb::retryable_s3_answer(403, "RequestTimeTooSkewed"));
	EXPECT_FALSE(tb::retryable_s3_answer(400, "RequestTimeTooSkewed"));
	EXPECT_FALSE(tb::retryable_s3_answer(503, "RequestTimeTooSkewed"));
	EXPECT_FALSE(tb::retryable_s3_answer(400, "BadDigest"));
	EXPECT_FALSE(tb::retryable_s3_answer(400, ""));
	EXPECT_FALSE(tb::retryable_s3_answer(403, "AccessDenied"));
	EXPECT_FALSE(tb::retryable_s3_answer(404, "NoSuchKey"));
	EXPECT_FALSE(tb::retryable_s3_answer(200, "InvalidPart"));
}

TEST(S3RetryClass, RequestTimeoutIsRetriedSkewedClockIsNot) {
	FakeS3 s3;
	s3.before = [&](const FakeRequest &) -> std::optional<FakeAnswer> {
		if (s3.server().count("GET") <= 2)
			return error_answer(400, "RequestTimeout");
		return std::nullopt;
	};
	tb::S3Storage storage(fake_config(s3.url()));
	EXPECT_TRUE(storage.list("").empty());
	EXPECT_EQ(s3.server().count("GET"), 3);

	FakeS3 skewed;
	skewed.before = [](const FakeRequest &) -> std::optional<FakeAnswer> {
		return error_answer(403, "RequestTimeTooSkewed");
	};
	tb::S3Storage s(fake_config(skewed.url()));
	EXPECT_TRUE(throws_kind(ErrorKind::PermissionDenied, [&] { s.list(""); }));
	EXPECT_EQ(skewed.server().count("GET"), 1);
}

// A CompleteMultipartUpload that keeps failing, alternately with 503 SlowDown and with 200 and an
// InternalError body: max_retries + 1 attempts in all. (A second loop around call()'s own retries
// made that up to (max_retries + 1)^2.)
TEST(S3Complete, ErrorsInAnOkAnswerAreRetriedInOneBoundedLoop) {
	FakeS3 s3;
	s3.before = [&](const FakeRequest &r) -> std::optional<FakeAnswer> {
		if (r.method != "POST" || r.query.find("uploadId=") == std::string::npos)
			return std::nullopt;
		if (s3.server().count("POST", "uploadId=") % 2 == 1)
			return error_answer(503, "SlowDown");
		FakeAnswer a; // the status came before the failure
		a.body = s3_error_xml("InternalError", "We encountered an internal error. Please try again.");
		return a;
	};
	tb::S3Storage storage(fake_config(s3.url(), 2));
	auto w = storage.open_write("big.tbk", "w1");
	write_all(*w, two_parts());
	expect_publish_fails(*w, ErrorKind::Io, {"503 SlowDown", "after 3 attempts"});
	EXPECT_EQ(s3.server().count("POST", "uploadId="), 3);
	w.reset(); // aborts the upload
	EXPECT_TRUE(s3.open_uploads().empty());
}

// The first CompleteMultipartUpload completes the object but its answer is lost; the retry finds
// no such upload. HEAD then confirms the object by size and multipart ETag.
TEST(S3Complete, LostAnswerThenNoSuchUploadIsConfirmedByHead) {
	FakeS3 s3;
	s3.after = [&](const FakeRequest &r, FakeAnswer &a) {
		if (r.method == "POST" && r.query.find("uploadId=") != std::string::npos &&
		    s3.server().count("POST", "uploadId=") == 1)
			a.kind = FakeAnswer::Drop;
	};
	tb::S3Storage storage(fake_config(s3.url()));
	auto w = storage.open_write("big.tbk", "w1");
	write_all(*w, two_parts());
	w->publish();
	EXPECT_EQ(s3.server().count("POST", "uploadId="), 2);
	EXPECT_TRUE(s3.has_object("pre/big.tbk"));
	EXPECT_GE(s3.server().count("HEAD"), 1);
}

// NoSuchUpload at the first attempt: someone aborted the upload (a lifecycle rule); not success.
TEST(S3Complete, NoSuchUploadAtTheFirstAttemptIsAnError) {
	FakeS3 s3;
	s3.before = [](const FakeRequest &r) -> std::optional<FakeAnswer> {
		if (r.method == "POST" && r.query.find("uploadId=") != std::string::npos)
			return error_answer(404, "NoSuchUpload");
		return std::nullopt;
	};
	tb::S3Storage storage(fake_config(s3.url()));
	auto w = storage.open_write("big.tbk", "w1");
	write_all(*w, two_parts());
	expect_publish_fails(*w, ErrorKind::NotFound, {"the multipart upload no longer exists"});
	EXPECT_EQ(s3.server().count("HEAD"), 0);
}

// The first CreateMultipartUpload creates an upload but its answer is lost; the retry creates
// another. The first one must not be left behind.
TEST(S3CreateUpload, LostAnswerLeavesNoDuplicateUpload) {
	FakeS3 s3;
	s3.after = [&](const FakeRequest &r, FakeAnswer &a) {
		if (r.method == "POST" && r.query == "uploads=" && s3.server().count("POST", "uploads=") == 1)
			a.kind = FakeAnswer::Drop;
	};
	tb::S3Storage storage(fake_config(s3.url()));
	auto w = storage.open_write("big.tbk", "w1");
	write_all(*w, two_parts());
	EXPECT_EQ(s3.server().count("POST", "uploads="), 2);
	EXPECT_EQ(s3.open_uploads(), std::set<std::string>{"u2"}); // u1 was aborted
	w->publish();
	EXPECT_TRUE(s3.open_uploads().empty());
	EXPECT_TRUE(s3.has_object("pre/big.tbk"));
}

// Without a retry nothing is listed: the extra requests are only for the rare lost answer.
TEST(S3CreateUpload, NoListingWithoutARetry) {
	FakeS3 s3;
	tb::S3Storage storage(fake_config(s3.url()));
	auto w = storage.open_write("big.tbk", "w1");
	write_all(*w, two_parts());
	w->publish();
	EXPECT_EQ(s3.server().count("GET"), 0);
	EXPECT_EQ(s3.server().count("POST", "uploads="), 1);
}

} // namespace
