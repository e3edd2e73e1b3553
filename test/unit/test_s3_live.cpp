// The S3 driver against a real server: test/s3/swift-server.sh (OpenStack Swift with s3api) and
// its fault proxy, as scripts/test.sh runs them. Skipped unless TB_S3_ENDPOINT, TB_S3_BUCKET,
// TB_S3_ACCESS_KEY and TB_S3_SECRET are set; the fault tests also need TB_S3_PROXY.
#include "core/net/http_client.hpp"
#include "core/storage/s3/s3_storage.hpp"
#include "core/stream/sha256.hpp"

#include "test_support.hpp"

#include <chrono>
#include <cstdlib>

using namespace tbtest;
using tb::ErrorKind;

namespace {

std::string env(const char *name) {
	const char *v = std::getenv(name);
	return v ? v : "";
}

std::string sha256_hex(const std::string &data) {
	tb::Sha256 h;
	h.update(bytes_of(data), data.size());
	return h.hex_digest();
}

class S3Live : public ::testing::Test {
protected:
	void SetUp() override {
		endpoint_ = env("TB_S3_ENDPOINT");
		bucket_ = env("TB_S3_BUCKET");
		if (endpoint_.empty() || bucket_.empty() || env("TB_S3_ACCESS_KEY").empty() || env("TB_S3_SECRET").empty())
			GTEST_SKIP() << "no S3 server: set TB_S3_ENDPOINT, TB_S3_BUCKET, TB_S3_ACCESS_KEY, TB_S3_SECRET "
			                "(test/s3/swift-server.sh writes them to <dir>/env.sh)";
		// Each test in its own prefix, so that runs and tests never see each other's objects.
		const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
		prefix_ = "unit/" + std::string(info->name()) + "-" +
		          std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
		if (!env("TB_S3_PROXY").empty())
			fault("clear=1");
	}

	void TearDown() override {
		if (prefix_.empty())
			return;
		tb::S3Storage s(config());
		for (const auto &obj : s.list(""))
			s.remove(obj.name);
		for (const auto &upload : s.list_incomplete_uploads())
			s.abort_incomplete_upload(upload);
		if (!env("TB_S3_PROXY").empty())
			fault("clear=1");
	}

	// A configuration for the test's prefix, with quick retries and the smallest part size.
	tb::S3Config config(const std::string &endpoint = "") const {
		tb::S3Config c = tb::parse_s3_url("s3://" + bucket_ + "/" + prefix_);
		c.endpoint = endpoint.empty() ? endpoint_ : endpoint;
		if (!env("TB_S3_REGION").empty())
			c.region = env("TB_S3_REGION");
		c.path_style = true;
		c.credentials = {env("TB_S3_ACCESS_KEY"), env("TB_S3_SECRET"), ""};
		c.part_size = tb::kS3MinPartSize;
		c.retry_base_delay_ms = 10;
		c.retry_max_delay_ms = 100;
		c.io_timeout_ms = 5000;
		return c;
	}

	bool has_proxy() const { return !env("TB_S3_PROXY").empty(); }

	// Arms or reads the fault proxy; returns its state line.
	std::string fault(const std::string &query) {
		tb::HttpClient http(tb::HttpSettings{});
		tb::HttpRequest req;
		req.url = env("TB_S3_PROXY") + "/__fault?" + query;
		tb::HttpResponse r = http.perform(req);
		EXPECT_EQ(r.transport_error, "");
		EXPECT_EQ(r.status, 200);
		return r.body;
	}
	// One counter of the proxy's state ("resets_done", ...).
	int fault_count(const std::string &name) {
		std::string state = " " + fault("");
		size_t at = state.find(" " + name + "=");
		return at == std::string::npos ? -1 : std::atoi(state.c_str() + at + name.size() + 2);
	}

	static void store(tb::Storage &s, const std::string &name, const std::string &data) {
		auto w = s.open_write(name, "w1");
		write_in_pieces(*w, data, {65536, 7, 1 << 20});
		w->finish();
		w->publish();
	}
	static std::string load(tb::Storage &s, const std::string &name, uint64_t offset = 0, size_t read_size = 65536) {
		auto src = s.open_read(name, offset);
		return read_all(*src, read_size);
	}
	static std::string message_of(const std::function<void()> &f, ErrorKind kind) {
		try {
			f();
		} catch (const tb::Error &e) {
			EXPECT_EQ(kind_name(e.kind()), std::string(kind_name(kind))) << e.what();
			return e.what();
		}
		ADD_FAILURE() << "no error";
		return "";
	}

	std::string endpoint_, bucket_, prefix_;
};

TEST_F(S3Live, PutGetListDelete) {
	tb::S3Config c = config();
	c.list_page_size = 2; // three objects: two pages
	tb::S3Storage s(c);
	store(s, "t/1/a.tbk", "first");
	store(s, "t/1/b.tbk", std::string(1000, 'b'));
	store(s, "t/2/c.tbk", "");
	EXPECT_EQ(load(s, "t/1/a.tbk"), "first");
	EXPECT_EQ(load(s, "t/1/b.tbk", 0, 3), std::string(1000, 'b'));
	EXPECT_EQ(load(s, "t/2/c.tbk"), "");

	auto all = s.list("");
	ASSERT_EQ(all.size(), 3u);
	EXPECT_EQ(all[0].name, "t/1/a.tbk");
	EXPECT_EQ(all[0].size, 5u);
	EXPECT_EQ(all[1].name, "t/1/b.tbk");
	EXPECT_EQ(all[1].size, 1000u);
	EXPECT_EQ(all[2].name, "t/2/c.tbk");
	EXPECT_EQ(all[2].size, 0u);
	auto some = s.list("t/1/");
	ASSERT_EQ(some.size(), 2u);
	EXPECT_EQ(some[1].name, "t/1/b.tbk");
	EXPECT_TRUE(s.list("t/3").empty());

	EXPECT_TRUE(s.exists("t/1/a.tbk"));
	EXPECT_EQ(s.size("t/1/b.tbk"), 1000u);
	EXPECT_TRUE(s.remove("t/1/a.tbk"));
	EXPECT_FALSE(s.remove("t/1/a.tbk"));
	EXPECT_FALSE(s.exists("t/1/a.tbk"));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.size("t/1/a.tbk"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.open_read("t/1/a.tbk"); }));
	EXPECT_EQ(s.list("").size(), 2u);
}

TEST_F(S3Live, ObjectIsInvisibleUntilPublished) {
	tb::S3Storage s(config());
	auto w = s.open_write("late.tbk", "w1");
	w->write(bytes_of(std::string("data")), 4);
	w->finish();
	EXPECT_FALSE(s.exists("late.tbk"));
	w->publish();
	EXPECT_TRUE(s.exists("late.tbk"));
	EXPECT_EQ(load(s, "late.tbk"), "data");
}

TEST_F(S3Live, MultipartRoundTripAndOffsets) {
	tb::S3Storage s(config());
	const std::string data = random_bytes(3 * tb::kS3MinPartSize + 123, 7); // four parts
	auto w = s.open_write("big.tbk", "w1");
	write_in_pieces(*w, data, {1 << 20, 13, 300000});
	w->finish();
	EXPECT_FALSE(s.exists("big.tbk"));
	EXPECT_EQ(s.list_incomplete_uploads().size(), 1u);
	w->publish(); // completes, then confirms size and multipart ETag
	EXPECT_TRUE(s.list_incomplete_uploads().empty());
	EXPECT_EQ(s.size("big.tbk"), data.size());
	EXPECT_EQ(sha256_hex(load(s, "big.tbk")), sha256_hex(data));
	const uint64_t mid = tb::kS3MinPartSize + 4321;
	EXPECT_EQ(sha256_hex(load(s, "big.tbk", mid)), sha256_hex(data.substr(mid)));
	EXPECT_EQ(load(s, "big.tbk", data.size() - 10, 4), data.substr(data.size() - 10));
	EXPECT_EQ(load(s, "big.tbk", data.size()), "");
}

TEST_F(S3Live, ExactlyOnePartAndOneByteMore) {
	tb::S3Storage s(config());
	const std::string one = random_bytes(tb::kS3MinPartSize, 1), more = random_bytes(tb::kS3MinPartSize + 1, 2);
	store(s, "one.tbk", one);
	store(s, "more.tbk", more);
	EXPECT_EQ(sha256_hex(load(s, "one.tbk")), sha256_hex(one));
	EXPECT_EQ(sha256_hex(load(s, "more.tbk")), sha256_hex(more));
}

TEST_F(S3Live, UnpublishedWriterAbortsItsUpload) {
	tb::S3Storage s(config());
	{
		auto w = s.open_write("abandoned.tbk", "w1");
		const std::string data = random_bytes(tb::kS3MinPartSize + 10, 3);
		w->write(bytes_of(data), data.size()); // the first part is uploaded
		auto uploads = s.list_incomplete_uploads();
		ASSERT_EQ(uploads.size(), 1u);
		EXPECT_EQ(uploads[0].name, "abandoned.tbk");
	}
	EXPECT_TRUE(s.list_incomplete_uploads().empty());
	EXPECT_FALSE(s.exists("abandoned.tbk"));
	EXPECT_TRUE(s.list("").empty());
}

TEST_F(S3Live, WrongSecretIsAClearErrorWithoutTheSecret) {
	tb::S3Config c = config();
	c.credentials.secret_access_key = "wrong-secret-0123456789";
	tb::S3Storage s(c);
	for (const auto &f : std::vector<std::function<void()>>{[&] { s.list(""); }, [&] { store(s, "x.tbk", "x"); },
	                                                        [&] { s.open_read("x.tbk"); }}) {
		std::string msg = message_of(f, ErrorKind::PermissionDenied);
		EXPECT_NE(msg.find("403"), std::string::npos) << msg;
		EXPECT_NE(msg.find("SignatureDoesNotMatch"), std::string::npos) << msg;
		EXPECT_NE(msg.find("refused the credentials"), std::string::npos) << msg;
		EXPECT_EQ(msg.find("wrong-secret"), std::string::npos) << msg;
	}
	// HEAD answers carry no error code: the message must not claim to know which it was.
	for (const auto &f : std::vector<std::function<void()>>{[&] { s.exists("x.tbk"); }, [&] { s.size("x.tbk"); }}) {
		std::string msg = message_of(f, ErrorKind::PermissionDenied);
		EXPECT_NE(msg.find("access denied (HTTP 403"), std::string::npos) << msg;
		EXPECT_NE(msg.find("wrong credentials or missing permission"), std::string::npos) << msg;
		EXPECT_EQ(msg.find("refused the credentials"), std::string::npos) << msg;
	}
}

TEST_F(S3Live, MissingBucketIsAClearError) {
	tb::S3Config c = config();
	c.bucket = "tb-no-such-bucket";
	tb::S3Storage s(c);
	std::string msg = message_of([&] { s.list(""); }, ErrorKind::NotFound);
	EXPECT_NE(msg.find("bucket \"tb-no-such-bucket\" does not exist"), std::string::npos) << msg;
	msg = message_of([&] { store(s, "x.tbk", "x"); }, ErrorKind::NotFound);
	EXPECT_NE(msg.find("NoSuchBucket"), std::string::npos) << msg;
	// HEAD requests (a restore's size and existence checks, a delete) say so too, not "no such
	// object".
	for (const auto &f : std::vector<std::function<void()>>{[&] { s.exists("x.tbk"); }, [&] { s.size("x.tbk"); },
	                                                        [&] { s.remove("x.tbk"); }}) {
		msg = message_of(f, ErrorKind::NotFound);
		EXPECT_NE(msg.find("bucket \"tb-no-such-bucket\" does not exist"), std::string::npos) << msg;
	}
	// An existing bucket with a missing object is still no error for exists().
	tb::S3Storage good(config());
	EXPECT_FALSE(good.exists("x.tbk"));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { good.size("x.tbk"); }));
}

TEST_F(S3Live, SlowDownIsRetried) {
	if (!has_proxy())
		GTEST_SKIP() << "TB_S3_PROXY not set";
	tb::S3Storage s(config(env("TB_S3_PROXY")));
	const std::string data = random_bytes(tb::kS3MinPartSize + 1000, 4);
	fault("slowdown=3");
	store(s, "slow.tbk", data);
	EXPECT_EQ(fault_count("slowdowns_sent"), 3);
	fault("slowdown=2");
	EXPECT_EQ(sha256_hex(load(s, "slow.tbk")), sha256_hex(data));
	EXPECT_EQ(fault_count("slowdowns_sent"), 5);
}

TEST_F(S3Live, TooManySlowDownsGiveUp) {
	if (!has_proxy())
		GTEST_SKIP() << "TB_S3_PROXY not set";
	tb::S3Config c = config(env("TB_S3_PROXY"));
	c.max_retries = 2;
	tb::S3Storage s(c);
	fault("slowdown=10");
	std::string msg = message_of([&] { s.list(""); }, ErrorKind::Io);
	EXPECT_NE(msg.find("HTTP 503 SlowDown"), std::string::npos) << msg;
	EXPECT_NE(msg.find("after 3 attempts"), std::string::npos) << msg;
	EXPECT_EQ(fault_count("slowdowns_sent"), 3);
}

TEST_F(S3Live, ResetsMidUploadAreRetriedFromThePartBuffer) {
	if (!has_proxy())
		GTEST_SKIP() << "TB_S3_PROXY not set";
	tb::S3Storage s(config(env("TB_S3_PROXY")));
	const std::string data = random_bytes(2 * tb::kS3MinPartSize + 5000, 5);
	fault("reset=2&reset_after=1048576");
	store(s, "reset-up.tbk", data);
	EXPECT_EQ(fault_count("resets_done"), 2);
	EXPECT_EQ(sha256_hex(load(s, "reset-up.tbk")), sha256_hex(data));
}

TEST_F(S3Live, ResetsMidDownloadResumeWhereTheyStopped) {
	if (!has_proxy())
		GTEST_SKIP() << "TB_S3_PROXY not set";
	tb::S3Storage direct(config());
	const std::string data = random_bytes(3 << 20, 6);
	store(direct, "reset-down.tbk", data);
	tb::S3Storage s(config(env("TB_S3_PROXY")));
	fault("reset=2&reset_after=1048576");
	EXPECT_EQ(sha256_hex(load(s, "reset-down.tbk", 0, 10000)), sha256_hex(data));
	EXPECT_EQ(fault_count("resets_done"), 2);
}

// A CreateMultipartUpload whose answer is lost is retried, which makes a second upload: the first
// must not be left behind, never completed.
TEST_F(S3Live, LostCreateAnswerLeavesNoDuplicateUpload) {
	if (!has_proxy())
		GTEST_SKIP() << "TB_S3_PROXY not set";
	tb::S3Storage s(config(env("TB_S3_PROXY")));
	const std::string data = random_bytes(tb::kS3MinPartSize + 1000, 8);
	fault("lose=1&lose_match=%3Fuploads%3D");
	auto w = s.open_write("dup.tbk", "w1");
	w->write(bytes_of(data), data.size()); // the first part: the upload is created
	EXPECT_EQ(fault_count("losses_done"), 1);
	EXPECT_EQ(s.list_incomplete_uploads().size(), 1u);
	w->finish();
	w->publish();
	EXPECT_TRUE(s.list_incomplete_uploads().empty());
	EXPECT_EQ(sha256_hex(load(s, "dup.tbk")), sha256_hex(data));
}

// The answer to CompleteMultipartUpload is lost after the server completed the object: the retry
// finds the upload gone (or completed), and HEAD confirms the object by size and ETag.
TEST_F(S3Live, LostCompleteAnswerIsConfirmedByHead) {
	if (!has_proxy())
		GTEST_SKIP() << "TB_S3_PROXY not set";
	tb::S3Storage s(config(env("TB_S3_PROXY")));
	const std::string data = random_bytes(tb::kS3MinPartSize + 1000, 9);
	auto w = s.open_write("complete.tbk", "w1");
	w->write(bytes_of(data), data.size());
	w->finish();
	fault("lose=1&lose_match=POST");
	w->publish();
	EXPECT_EQ(fault_count("losses_done"), 1);
	EXPECT_TRUE(s.list_incomplete_uploads().empty());
	EXPECT_EQ(sha256_hex(load(s, "complete.tbk")), sha256_hex(data));
}

TEST_F(S3Live, SilentServerTimesOutAndIsRetried) {
	if (!has_proxy())
		GTEST_SKIP() << "TB_S3_PROXY not set";
	tb::S3Config c = config(env("TB_S3_PROXY"));
	c.io_timeout_ms = 1000;
	tb::S3Storage s(c);
	store(s, "timeout.tbk", "abc");
	fault("delay=1&delay_ms=4000");
	EXPECT_TRUE(s.exists("timeout.tbk"));
	fault("delay=1&delay_ms=4000");
	EXPECT_EQ(load(s, "timeout.tbk"), "abc");
	EXPECT_EQ(fault_count("delays_done"), 2);
}

TEST_F(S3Live, EndpointDownGivesUpAfterBoundedRetries) {
	tb::S3Config c = config("http://127.0.0.1:9"); // nothing listens on the discard port
	c.max_retries = 2;
	tb::S3Storage s(c);
	auto start = std::chrono::steady_clock::now();
	std::string msg = message_of([&] { s.exists("x.tbk"); }, ErrorKind::Io);
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
	EXPECT_NE(msg.find("after 3 attempts"), std::string::npos) << msg;
	EXPECT_NE(msg.find("127.0.0.1:9"), std::string::npos) << msg;
	msg = message_of([&] { s.open_read("x.tbk"); }, ErrorKind::Io);
	EXPECT_NE(msg.find("after 3 attempts"), std::string::npos) << msg;
}

} // namespace
