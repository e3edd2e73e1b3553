// TeeSink: branches dropped at their first error; the stream fails only when none is left.
#include "core/stream/tee_sink.hpp"

#include "core/error.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

using namespace tbtest;

namespace {

class FailingSink : public tb::Sink {
public:
	std::string data;
	size_t fail_at;
	std::string message;
	FailingSink(size_t fail_at, std::string message = "upload failed: HTTP 503")
	    : fail_at(fail_at), message(std::move(message)) {}
	void write(const uint8_t *p, size_t len) override {
		if (data.size() + len > fail_at)
			throw tb::Error(tb::ErrorKind::Io, message);
		data.append(reinterpret_cast<const char *>(p), len);
	}
	void finish() override {}
};

} // namespace

TEST(TeeSink, EveryBranchGetsTheSameBytes) {
	std::string a, b;
	StringSink sa(a), sb(b);
	tb::TeeSink tee;
	size_t ia = tee.add(sa);
	size_t ib = tee.add(sb);
	tee.write(bytes_of("hello "), 6);
	tee.boundary();
	tee.write(bytes_of("world"), 5);
	tee.finish();
	EXPECT_EQ(a, "hello world");
	EXPECT_EQ(b, "hello world");
	EXPECT_FALSE(tee.failed(ia));
	EXPECT_FALSE(tee.failed(ib));
	EXPECT_EQ(sa.finished(), 1);
	EXPECT_EQ(sb.finished(), 1);
	EXPECT_EQ(sb.boundaries(), std::vector<size_t>{6});
}

TEST(TeeSink, AFailingBranchIsDroppedAndTheOthersGoOn) {
	std::string a, c;
	StringSink sa(a), sc(c);
	FailingSink bad(4);
	tb::TeeSink tee;
	size_t ia = tee.add(sa);
	size_t ib = tee.add(bad);
	size_t ic = tee.add(sc);
	tee.write(bytes_of("abc"), 3);
	tee.write(bytes_of("def"), 3);
	tee.write(bytes_of("ghi"), 3);
	tee.finish();
	EXPECT_EQ(a, "abcdefghi");
	EXPECT_EQ(c, "abcdefghi");
	EXPECT_EQ(bad.data, "abc");
	EXPECT_FALSE(tee.failed(ia));
	EXPECT_TRUE(tee.failed(ib));
	EXPECT_EQ(tee.error(ib), "upload failed: HTTP 503");
	EXPECT_FALSE(tee.failed(ic));
}

TEST(TeeSink, TheFirstBranchFailingLeavesTheOthers) {
	// A local disk that fills up must not cost the off-site copy (and the other way round).
	FailingSink full(2, "No space left on device");
	std::string b;
	StringSink sb(b);
	tb::TeeSink tee;
	size_t ia = tee.add(full);
	size_t ib = tee.add(sb);
	tee.write(bytes_of("abc"), 3);
	tee.finish();
	EXPECT_TRUE(tee.failed(ia));
	EXPECT_EQ(tee.error(ia), "No space left on device");
	EXPECT_FALSE(tee.failed(ib));
	EXPECT_EQ(b, "abc");
}

TEST(TeeSink, TheStreamFailsWithTheLastSurvivorsOwnError) {
	FailingSink first(2, "disk full"), second(5, "HTTP 403 AccessDenied");
	tb::TeeSink tee;
	tee.add(first);
	tee.add(second);
	tee.write(bytes_of("abc"), 3); // first drops out
	try {
		tee.write(bytes_of("def"), 3); // second too: nothing is left
		FAIL() << "expected the stream to fail";
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), tb::ErrorKind::Io);
		EXPECT_STREQ(e.what(), "HTTP 403 AccessDenied");
	}
	// Called again, it keeps failing rather than writing nowhere.
	EXPECT_THROW(tee.finish(), tb::Error);
}

TEST(TeeSink, OneBranchBehavesLikeItsSink) {
	FailingSink bad(2);
	tb::TeeSink tee;
	tee.add(bad);
	EXPECT_THROW(tee.write(bytes_of("abc"), 3), tb::Error);
}
