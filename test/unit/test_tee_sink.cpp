// TeeSink: a required branch whose errors propagate, optional branches dropped at their first error.
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
	explicit FailingSink(size_t fail_at) : fail_at(fail_at) {}
	void write(const uint8_t *p, size_t len) override {
		if (data.size() + len > fail_at)
			throw tb::Error(tb::ErrorKind::Io, "upload failed: HTTP 503");
		data.append(reinterpret_cast<const char *>(p), len);
	}
	void finish() override {}
};

} // namespace

TEST(TeeSink, EveryBranchGetsTheSameBytes) {
	std::string a, b;
	StringSink sa(a), sb(b);
	tb::TeeSink tee(sa);
	size_t i = tee.add_optional(sb);
	tee.write(bytes_of("hello "), 6);
	tee.boundary();
	tee.write(bytes_of("world"), 5);
	tee.finish();
	EXPECT_EQ(a, "hello world");
	EXPECT_EQ(b, "hello world");
	EXPECT_FALSE(tee.failed(i));
	EXPECT_EQ(sa.finished(), 1);
	EXPECT_EQ(sb.finished(), 1);
	EXPECT_EQ(sb.boundaries(), std::vector<size_t>{6});
}

TEST(TeeSink, AFailingOptionalBranchIsDroppedAndTheOthersGoOn) {
	std::string a, c;
	StringSink sa(a), sc(c);
	FailingSink bad(4);
	tb::TeeSink tee(sa);
	size_t ib = tee.add_optional(bad);
	size_t ic = tee.add_optional(sc);
	tee.write(bytes_of("abc"), 3);
	tee.write(bytes_of("def"), 3);
	tee.write(bytes_of("ghi"), 3);
	tee.finish();
	EXPECT_EQ(a, "abcdefghi");
	EXPECT_EQ(c, "abcdefghi");
	EXPECT_EQ(bad.data, "abc");
	EXPECT_TRUE(tee.failed(ib));
	EXPECT_EQ(tee.error(ib), "upload failed: HTTP 503");
	EXPECT_FALSE(tee.failed(ic));
}

TEST(TeeSink, TheRequiredBranchsErrorPropagates) {
	FailingSink bad(2);
	std::string b;
	StringSink sb(b);
	tb::TeeSink tee(bad);
	tee.add_optional(sb);
	EXPECT_THROW(tee.write(bytes_of("abc"), 3), tb::Error);
}
