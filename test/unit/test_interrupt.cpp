// Interrupting network operations (core/net/interrupt.hpp): a check the test flips from another
// thread stops a transfer from a silent server, a backoff sleep and a read long before their
// timeouts, with ErrorKind::Cancelled and no further attempt; cleanup after it still runs.
#include "core/net/http_client.hpp"
#include "core/net/interrupt.hpp"
#include "core/storage/s3/s3_storage.hpp"
#include "core/stream/tee_sink.hpp"

#include "fake_s3.hpp"
#include "test_support.hpp"

#include <atomic>
#include <chrono>
#include <thread>

using namespace tbtest;
using tb::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<bool> interrupt_flag{false};

bool flag_check() {
	return interrupt_flag.load();
}

// Long enough that an operation which ends within kBound was stopped by the interrupt, not by
// a timeout; generous for a loaded machine.
constexpr long kTimeoutMs = 120000;
constexpr auto kBound = std::chrono::seconds(30);

class Interrupt : public ::testing::Test {
protected:
	void SetUp() override {
		interrupt_flag = false;
		tb::set_interrupt_check(flag_check);
	}
	void TearDown() override {
		if (flipper_.joinable())
			flipper_.join();
		tb::set_interrupt_check(nullptr);
		interrupt_flag = false;
	}
	// Requests the interrupt from another thread after 200 ms.
	void interrupt_soon() {
		flipper_ = std::thread([] {
			std::this_thread::sleep_for(std::chrono::milliseconds(200));
			interrupt_flag = true;
		});
	}
	static tb::S3Config fake_config(const std::string &url) {
		tb::S3Config c = tb::parse_s3_url("s3://bkt/pre");
		c.endpoint = url;
		c.path_style = true;
		c.credentials = {"AKID", "SECRET", ""};
		c.part_size = tb::kS3MinPartSize;
		c.io_timeout_ms = kTimeoutMs;
		c.connect_timeout_ms = kTimeoutMs;
		c.max_retries = 3;
		c.retry_base_delay_ms = 1;
		c.retry_max_delay_ms = 2;
		return c;
	}
	static FakeAnswer silence() {
		FakeAnswer a;
		a.kind = FakeAnswer::Silence;
		return a;
	}
	// The message of the Cancelled error f throws, checking it came well before the timeouts.
	static std::string cancelled_by(const std::function<void()> &f) {
		auto start = Clock::now();
		std::string msg;
		try {
			f();
			ADD_FAILURE() << "no error";
		} catch (const tb::Error &e) {
			EXPECT_EQ(kind_name(e.kind()), std::string("Cancelled")) << e.what();
			msg = e.what();
		}
		EXPECT_LT(Clock::now() - start, kBound);
		return msg;
	}
	std::thread flipper_;
};

TEST_F(Interrupt, CheckSleepAndIgnoreScope) {
	EXPECT_FALSE(tb::interrupt_requested());
	EXPECT_TRUE(tb::sleep_unless_interrupted(1));
	interrupt_soon();
	auto start = Clock::now();
	EXPECT_FALSE(tb::sleep_unless_interrupted(kTimeoutMs));
	EXPECT_LT(Clock::now() - start, kBound);
	EXPECT_TRUE(tb::interrupt_requested());
	{
		tb::IgnoreInterrupts ignore;
		EXPECT_FALSE(tb::interrupt_requested());
		bool elsewhere = false; // the scope is this thread's only
		std::thread([&] { elsewhere = tb::interrupt_requested(); }).join();
		EXPECT_TRUE(elsewhere);
	}
	EXPECT_TRUE(tb::interrupt_requested());
	tb::set_interrupt_check(nullptr);
	EXPECT_FALSE(tb::interrupt_requested());
}

// A pipeline's stop token: seen by the thread that watches it, also when the process-wide check
// says nothing (the backend took the cancel and cleared its flag), and by no other thread.
TEST_F(Interrupt, StopTokenIsSeenByTheWatchingThreadOnly) {
	tb::StopToken token;
	tb::WatchStop watch(token);
	EXPECT_FALSE(tb::interrupt_requested());
	token.request();
	EXPECT_TRUE(tb::interrupt_requested());
	EXPECT_FALSE(tb::sleep_unless_interrupted(kTimeoutMs));
	bool elsewhere = true;
	std::thread([&] { elsewhere = tb::interrupt_requested(); }).join();
	EXPECT_FALSE(elsewhere);
	{
		tb::IgnoreInterrupts ignore; // a best-effort cleanup still runs
		EXPECT_FALSE(tb::interrupt_requested());
	}
	{
		tb::StopToken inner;
		tb::WatchStop nested(inner);
		EXPECT_FALSE(tb::interrupt_requested()) << "the innermost token is watched";
	}
	EXPECT_TRUE(tb::interrupt_requested()) << "and the outer one again after it";
}

// A request in flight on a helper thread ends once its token is requested: the S3 call throws
// Cancelled and makes no other attempt, and the writer's cleanup knows it was cancelled.
TEST_F(Interrupt, S3RequestOnAWatchingThreadEndsWithItsToken) {
	FakeS3 s3;
	s3.before = [](const FakeRequest &) -> std::optional<FakeAnswer> { return silence(); };
	tb::S3Storage s(fake_config(s3.url()));
	tb::StopToken token;
	std::string msg;
	std::thread helper([&] {
		tb::WatchStop watch(token);
		msg = cancelled_by([&] { s.list(""); });
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	token.request();
	helper.join();
	EXPECT_EQ(msg, "could not list \"s3://bkt/pre/\": cancelled");
	EXPECT_EQ(s3.server().requests().size(), 1u);
}

TEST_F(Interrupt, HttpTransferFromASilentServerStops) {
	FakeHttpServer server([](const FakeRequest &) { return silence(); });
	tb::HttpSettings settings;
	settings.io_timeout_ms = kTimeoutMs;
	tb::HttpClient http(settings);
	tb::HttpRequest req;
	req.url = server.url() + "/x";
	interrupt_soon();
	auto start = Clock::now();
	tb::HttpResponse r = http.perform(req);
	EXPECT_LT(Clock::now() - start, kBound);
	EXPECT_TRUE(r.cancelled);
	EXPECT_FALSE(r.transport_retryable);
	EXPECT_EQ(r.transport_error, "cancelled");
}

TEST_F(Interrupt, S3RequestIsCancelledAndNotRetried) {
	FakeS3 s3;
	s3.before = [](const FakeRequest &) -> std::optional<FakeAnswer> { return silence(); };
	tb::S3Storage s(fake_config(s3.url()));
	interrupt_soon();
	std::string msg = cancelled_by([&] { s.list(""); });
	EXPECT_EQ(msg, "could not list \"s3://bkt/pre/\": cancelled");
	EXPECT_EQ(s3.server().requests().size(), 1u);
}

TEST_F(Interrupt, S3ReadFromASilentServerIsCancelled) {
	FakeS3 s3;
	s3.before = [](const FakeRequest &) -> std::optional<FakeAnswer> { return silence(); };
	tb::S3Storage s(fake_config(s3.url()));
	interrupt_soon();
	std::string msg = cancelled_by([&] { s.open_read("x.tbk"); });
	EXPECT_NE(msg.find("s3://bkt/pre/x.tbk"), std::string::npos) << msg;
	EXPECT_EQ(s3.server().requests().size(), 1u);
}

TEST_F(Interrupt, BackoffSleepIsCancelled) {
	FakeS3 s3;
	s3.before = [](const FakeRequest &) -> std::optional<FakeAnswer> {
		FakeAnswer a;
		a.status = 503;
		a.body = s3_error_xml("SlowDown", "Please reduce your request rate.");
		return a;
	};
	tb::S3Config c = fake_config(s3.url());
	c.retry_base_delay_ms = kTimeoutMs; // the first wait alone would be a minute or two
	c.retry_max_delay_ms = kTimeoutMs;
	tb::S3Storage s(c);
	interrupt_soon();
	cancelled_by([&] { s.list(""); });
	EXPECT_EQ(s3.server().requests().size(), 1u);
}

TEST_F(Interrupt, NothingIsSentOnceRequested) {
	FakeS3 s3;
	tb::S3Storage s(fake_config(s3.url()));
	interrupt_flag = true;
	cancelled_by([&] { s.exists("x.tbk"); });
	EXPECT_TRUE(s3.server().requests().empty());
}

// The writer destroyed after a cancel still aborts its multipart upload (one attempt).
TEST_F(Interrupt, CancelledWriterStillAbortsItsUpload) {
	FakeS3 s3;
	tb::S3Storage s(fake_config(s3.url()));
	auto w = s.open_write("big.tbk", "w1");
	const std::string data = random_bytes(tb::kS3MinPartSize + 10, 3);
	w->write(bytes_of(data), data.size()); // the first part is uploaded
	ASSERT_EQ(s3.open_uploads().size(), 1u);
	interrupt_flag = true;
	EXPECT_TRUE(throws_kind(ErrorKind::Cancelled, [&] { w->finish(); }));
	w.reset();
	EXPECT_TRUE(s3.open_uploads().empty());
	EXPECT_EQ(s3.server().count("DELETE", "uploadId="), 1);
}

// Cancelled through a stop token whose thread is gone, and no cancel pending any more when the
// writer is destroyed: its abort is still one attempt, not a series of retries against a server
// that does not answer.
TEST_F(Interrupt, WriterCancelledEarlierAbortsWithOneAttempt) {
	FakeS3 s3;
	tb::S3Storage s(fake_config(s3.url()));
	auto w = s.open_write("big.tbk", "w2");
	const std::string data = random_bytes(tb::kS3MinPartSize + 10, 4);
	w->write(bytes_of(data), data.size());
	ASSERT_EQ(s3.open_uploads().size(), 1u);
	tb::StopToken token;
	token.request();
	std::thread([&] {
		tb::WatchStop watch(token);
		EXPECT_TRUE(throws_kind(ErrorKind::Cancelled, [&] { w->finish(); }));
	}).join();
	s3.before = [](const FakeRequest &r) -> std::optional<FakeAnswer> {
		FakeAnswer a;
		a.status = 503;
		a.body = s3_error_xml("SlowDown", "Please reduce your request rate.");
		return r.method == "DELETE" ? std::optional<FakeAnswer>(a) : std::nullopt;
	};
	w.reset();
	EXPECT_EQ(s3.server().count("DELETE", "uploadId="), 1) << "one attempt, not max_retries + 1";
}

// A cancel in one branch (an off-site copy) stops the stream instead of dropping the copy.
TEST_F(Interrupt, TeeSinkPassesACancelOn) {
	struct CancellingSink : tb::Sink {
		void write(const uint8_t *, size_t) override { throw tb::Error(ErrorKind::Cancelled, "cancelled"); }
		void finish() override {}
	};
	std::string out;
	StringSink required(out);
	CancellingSink offsite;
	tb::TeeSink tee;
	tee.add(required);
	size_t branch = tee.add(offsite);
	EXPECT_TRUE(throws_kind(ErrorKind::Cancelled, [&] { tee.write(bytes_of("x"), 1); }));
	EXPECT_FALSE(tee.failed(branch));
}

} // namespace
