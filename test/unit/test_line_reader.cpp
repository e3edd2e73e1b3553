#include "core/stream/line_reader.hpp"
#include "test_support.hpp"

using tbtest::MemorySource;
using tbtest::throws_kind;

namespace {

std::vector<std::string> all_lines(const std::string &text, size_t max_chunk, size_t max_line = 1 << 20) {
	MemorySource source(text, max_chunk);
	tb::LineReader reader(source, max_line);
	std::vector<std::string> out;
	std::string line;
	while (reader.next(line)) {
		out.push_back(line);
		EXPECT_EQ(reader.line_number(), out.size());
	}
	return out;
}

} // namespace

TEST(LineReader, SplitsOnNewlineWhateverTheReadSizes) {
	std::string text = "first\n\nthird line\nlast\n";
	std::vector<std::string> expected{"first", "", "third line", "last"};
	for (size_t chunk : {size_t(1), size_t(2), size_t(3), size_t(7), SIZE_MAX})
		EXPECT_EQ(all_lines(text, chunk), expected) << "chunk " << chunk;
}

TEST(LineReader, LastLineWithoutNewlineIsReturned) {
	EXPECT_EQ(all_lines("a\nb", 1), (std::vector<std::string>{"a", "b"}));
	EXPECT_EQ(all_lines("", 1), std::vector<std::string>{});
	EXPECT_EQ(all_lines("\n", 1), std::vector<std::string>{""});
}

TEST(LineReader, LinesLongerThanReadBuffer) {
	std::string big(200 * 1024, 'x');
	std::string text = big + "\nshort\n" + big;
	std::vector<std::string> lines = all_lines(text, 10000, big.size());
	ASSERT_EQ(lines.size(), 3u);
	EXPECT_EQ(lines[0], big);
	EXPECT_EQ(lines[1], "short");
	EXPECT_EQ(lines[2], big);
}

TEST(LineReader, RefusesOverlongLine) {
	EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [] { all_lines("12345\n123456\n", 2, 5); }));
	EXPECT_EQ(all_lines("12345\n", 2, 5), std::vector<std::string>{"12345"});
}

TEST(LineReader, KeepsBytesVerbatim) {
	std::string text("a\0b\r\n\xc3\xa9\\\"\n", 9);
	EXPECT_EQ(all_lines(text, 1), (std::vector<std::string>{std::string("a\0b\r", 4), "\xc3\xa9\\\""}));
}
