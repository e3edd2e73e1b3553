#include "core/archive/copy_binary.hpp"

#include "test_support.hpp"

#include <sys/resource.h>

using namespace tbtest;
using tb::archive::CopyBinaryFrame;
using tb::archive::TupleFieldFilter;

namespace {

const std::string kSignature("PGCOPY\n\377\r\n\0", 11);

std::string copy_stream(const std::string &tuples) {
	return kSignature + std::string(4, '\0') /* flags */ + std::string(4, '\0') /* extension */ + tuples + "\xff\xff";
}

std::vector<std::vector<Field>> sample_rows() {
	return {
	    {be32(1), Field("alpha"), Field(), Field("")},
	    {be32(2), Field(""), Field("\xe2\x82\xac uro"), Field()},
	    {be32(3), Field(), Field(), Field()},
	    {be32(4), Field(std::string(1, '\0')), Field(random_bytes(5000, 1)), Field("x")},
	    {be32(5), Field(""), Field(""), Field("")},
	};
}

std::string tuples_of(const std::vector<std::vector<Field>> &rows) {
	std::string s;
	for (const auto &r : rows)
		s += tuple(r);
	return s;
}

std::vector<std::vector<Field>> keep_fields(const std::vector<std::vector<Field>> &rows,
                                            const std::vector<bool> &keep) {
	std::vector<std::vector<Field>> out;
	for (const auto &r : rows) {
		std::vector<Field> kept;
		for (size_t i = 0; i < r.size(); i++)
			if (keep[i])
				kept.push_back(r[i]);
		out.push_back(kept);
	}
	return out;
}

std::string filter(const std::string &tuples, const std::vector<bool> &keep, size_t source_chunk = SIZE_MAX,
                   size_t read_size = 65536) {
	MemorySource src(tuples, source_chunk);
	TupleFieldFilter f(src, keep);
	std::string out = read_all(f, read_size);
	uint8_t b;
	EXPECT_EQ(f.read(&b, 1), 0u) << "the end stays the end";
	return out;
}

} // namespace

TEST(CopyBinaryFrame, FramesTuples) {
	std::string tuples = tuples_of(sample_rows());
	for (size_t read_size : {1, 2, 3, 19, 20, 100, 100000})
		for (size_t chunk : {size_t(1), size_t(7), SIZE_MAX}) {
			MemorySource src(tuples, chunk);
			CopyBinaryFrame frame(src);
			std::string out = read_all(frame, read_size);
			EXPECT_TRUE(out == copy_stream(tuples)) << "read size " << read_size << ", chunk " << chunk;
			uint8_t b;
			EXPECT_EQ(frame.read(&b, 1), 0u);
			EXPECT_EQ(frame.read(&b, 1), 0u);
		}
}

TEST(CopyBinaryFrame, ExactBytes) {
	std::string tuples = tuple({be32(7)});
	MemorySource src(tuples);
	CopyBinaryFrame frame(src);
	std::string out = read_all(frame, 1);
	const char expected[] = "PGCOPY\n\377\r\n\0"
	                        "\0\0\0\0"
	                        "\0\0\0\0"
	                        "\0\1"
	                        "\0\0\0\4"
	                        "\0\0\0\7"
	                        "\377\377";
	EXPECT_EQ(out, std::string(expected, sizeof(expected) - 1));
}

TEST(CopyBinaryFrame, NoTuples) {
	MemorySource src("");
	CopyBinaryFrame frame(src);
	EXPECT_EQ(read_all(frame, 1), copy_stream(""));
	EXPECT_EQ(copy_stream("").size(), 21u);
}

TEST(CopyBinaryFrame, LargeTuples) {
	std::string tuples = tuple({random_bytes(3 << 20, 2), Field()}) + tuple({Field("a"), Field("")});
	MemorySource src(tuples, 100000);
	CopyBinaryFrame frame(src);
	EXPECT_TRUE(read_all(frame, 65521) == copy_stream(tuples));
}

TEST(TupleFieldFilter, KeepAllIsIdentity) {
	std::string tuples = tuples_of(sample_rows());
	EXPECT_TRUE(filter(tuples, {true, true, true, true}) == tuples);
	EXPECT_TRUE(filter(tuples, {true, true, true, true}, 1, 1) == tuples);
}

TEST(TupleFieldFilter, DropsChosenFields) {
	auto rows = sample_rows();
	std::string tuples = tuples_of(rows);
	for (unsigned mask = 0; mask < 16; mask++) {
		std::vector<bool> keep = {bool(mask & 1), bool(mask & 2), bool(mask & 4), bool(mask & 8)};
		std::string want = tuples_of(keep_fields(rows, keep));
		EXPECT_TRUE(filter(tuples, keep) == want) << "mask " << mask;
		EXPECT_TRUE(filter(tuples, keep, 1, 1) == want) << "mask " << mask << ", one byte at a time";
		EXPECT_TRUE(filter(tuples, keep, 3, 5) == want) << "mask " << mask;
	}
}

TEST(TupleFieldFilter, KeepsNullsAndZeroLengthFields) {
	auto rows = sample_rows();
	std::string out = filter(tuples_of(rows), {false, true, true, true}, 2, 3);
	auto parsed = parse_tuples(out);
	ASSERT_EQ(parsed.size(), rows.size());
	// Row 0: "alpha", NULL, ""; row 2: three NULLs; row 4: three zero-length values.
	ASSERT_EQ(parsed[0].size(), 3u);
	EXPECT_EQ(parsed[0][0], Field("alpha"));
	EXPECT_FALSE(parsed[0][1].has_value());
	ASSERT_TRUE(parsed[0][2].has_value());
	EXPECT_EQ(*parsed[0][2], "");
	for (const auto &f : parsed[2])
		EXPECT_FALSE(f.has_value());
	for (const auto &f : parsed[4]) {
		ASSERT_TRUE(f.has_value());
		EXPECT_TRUE(f->empty());
	}
}

TEST(TupleFieldFilter, DropEverything) {
	std::string tuples = tuples_of(sample_rows());
	EXPECT_EQ(filter(tuples, {false, false, false, false}), std::string(2 * sample_rows().size(), '\0'));
}

TEST(TupleFieldFilter, ZeroFieldTuples) {
	std::string tuples = tuple({}) + tuple({});
	EXPECT_EQ(filter(tuples, {}), tuples);
}

TEST(TupleFieldFilter, EmptyInput) {
	EXPECT_EQ(filter("", {true, false}), "");
}

TEST(TupleFieldFilter, LargeFields) {
	std::vector<std::vector<Field>> rows = {{random_bytes(2 << 20, 3), Field("keep"), random_bytes(3 << 20, 4)},
	                                        {Field(), compressible_bytes(1 << 20), Field("")}};
	std::string tuples = tuples_of(rows);
	std::vector<bool> keep = {false, true, true};
	EXPECT_TRUE(filter(tuples, keep, 65537, 4093) == tuples_of(keep_fields(rows, keep)));
	keep = {true, false, true};
	EXPECT_TRUE(filter(tuples, keep, 1 << 20, 1 << 20) == tuples_of(keep_fields(rows, keep)));
}

TEST(TupleFieldFilter, WrongFieldCountIsCorrupt) {
	std::string tuples = tuple({be32(1), Field("a")}) + tuple({be32(2), Field("b"), Field("c")});
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(tuples, {true, true}); }));
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(tuples, {true, true, true}); }));
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(tuples, {true}); }));
	// The COPY trailer (field count -1) is no tuple.
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(std::string("\xff\xff"), {true}); }));
}

TEST(TupleFieldFilter, NegativeLengthIsCorrupt) {
	std::string t;
	put_be16(t, 1);
	put_be32(t, 0xfffffffeu); // -2
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(t, {true}); }));
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(t, {false}); }));
	t.clear();
	put_be16(t, 1);
	put_be32(t, 0x80000000u); // INT32_MIN
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(t, {true}); }));
}

TEST(TupleFieldFilter, EveryCutInsideATupleIsCorrupt) {
	auto rows = sample_rows();
	std::string tuples = tuples_of(rows);
	std::vector<size_t> boundaries = {0};
	for (const auto &r : rows)
		boundaries.push_back(boundaries.back() + tuple(r).size());
	ASSERT_EQ(boundaries.back(), tuples.size());
	for (const std::vector<bool> &keep : {std::vector<bool>{true, true, true, true}, {true, false, true, false}}) {
		size_t whole = 0;
		for (size_t len = 0; len < tuples.size(); len++) {
			std::string cut = tuples.substr(0, len);
			if (len == boundaries[whole]) {
				// A cut between tuples leaves fewer, but whole, tuples.
				auto want = std::vector<std::vector<Field>>(rows.begin(), rows.begin() + long(whole));
				EXPECT_TRUE(filter(cut, keep, 3) == tuples_of(keep_fields(want, keep))) << "cut at " << len;
				whole++;
			} else {
				ASSERT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(cut, keep, 3); })) << "cut at " << len;
			}
		}
	}
}

TEST(TupleFieldFilter, HugeClaimedLengthFailsWithoutHugeAllocation) {
	// A damaged length may claim up to 2 GiB; with only a few bytes behind it the filter must
	// report a cut row, not try to hold 2 GiB first.
	for (bool keep : {true, false}) {
		std::string t;
		put_be16(t, 1);
		put_be32(t, 0x7fffffffu);
		t += "only a few bytes";
		EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { filter(t, {keep}); })) << "keep " << keep;
	}
	struct rusage usage;
	ASSERT_EQ(getrusage(RUSAGE_SELF, &usage), 0);
	EXPECT_LT(usage.ru_maxrss, 1024L * 1024L) << "peak resident size (KiB) reached a gigabyte";
}

TEST(TupleBatches, CutsWholeTuplesIntoBatches) {
	auto rows = sample_rows(); // 5 rows
	std::string tuples = tuples_of(rows);
	for (uint64_t per : {1, 2, 3, 5, 6})
		for (size_t chunk : {size_t(1), size_t(7), SIZE_MAX})
			for (size_t read_size : {size_t(1), size_t(5), size_t(65536)}) {
				MemorySource src(tuples, chunk);
				tb::archive::TupleBatches batches(src, 4, per);
				std::vector<std::string> got;
				while (batches.next_batch()) {
					got.push_back(read_all(batches, read_size));
					uint8_t b;
					EXPECT_EQ(batches.read(&b, 1), 0u) << "a batch's end stays its end";
				}
				EXPECT_FALSE(batches.next_batch()) << "and the stream's end stays the end";
				std::vector<std::string> want;
				for (size_t i = 0; i < rows.size(); i += per)
					want.push_back(tuples_of({rows.begin() + i, rows.begin() + std::min(rows.size(), i + per)}));
				EXPECT_TRUE(got == want) << "per batch " << per << ", chunk " << chunk << ", read " << read_size;
			}
}

TEST(TupleBatches, NoTuplesNoBatch) {
	MemorySource src("");
	tb::archive::TupleBatches batches(src, 4, 10);
	EXPECT_FALSE(batches.next_batch());
	uint8_t b;
	EXPECT_EQ(batches.read(&b, 1), 0u);
}

TEST(TupleBatches, ChecksFieldCount) {
	std::string tuples = tuples_of(sample_rows());
	MemorySource src(tuples);
	tb::archive::TupleBatches batches(src, 3, 10);
	EXPECT_THROW(batches.next_batch(), tb::Error);
}
