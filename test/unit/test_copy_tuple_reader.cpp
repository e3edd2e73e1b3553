// CopyTupleReader: splitting binary COPY tuples into fields (used by verify and the field filter).
#include "core/archive/copy_binary.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

using namespace tbtest;
using tb::ErrorKind;
using tb::archive::CopyTupleReader;

namespace {

std::vector<std::vector<Field>> read_fields(const std::string &data, size_t fields, size_t chunk) {
	auto src = memory_source(data, chunk);
	CopyTupleReader reader(*src, fields);
	std::vector<CopyTupleReader::Field> got;
	std::vector<std::vector<Field>> rows;
	while (reader.next(got)) {
		std::vector<Field> row;
		for (const auto &f : got)
			row.push_back(f.length < 0 ? Field{}
			                           : Field{std::string(reinterpret_cast<const char *>(f.data), f.length)});
		rows.push_back(row);
	}
	return rows;
}

} // namespace

TEST(CopyTupleReader, SplitsFieldsWithNullsEmptiesAndLargeValues) {
	std::vector<std::vector<Field>> rows = {
	    {std::string("\0\0\0\1", 4), std::string("héllo"), Field{}},
	    {std::string(), std::string(3 << 20, 'x'), std::string("z")},
	    {Field{}, Field{}, Field{}},
	};
	std::string data;
	for (const auto &r : rows)
		data += tuple(r);
	for (size_t chunk : {size_t(1), size_t(3), size_t(4096), SIZE_MAX})
		EXPECT_EQ(read_fields(data, 3, chunk), rows) << "read in pieces of " << chunk;
}

TEST(CopyTupleReader, EmptyStreamHasNoTuples) {
	EXPECT_TRUE(read_fields("", 2, SIZE_MAX).empty());
}

TEST(CopyTupleReader, RefusesWrongFieldCountsCutsAndNegativeLengths) {
	std::string two = tuple({std::string("a"), std::string("b")});
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_fields(two, 3, SIZE_MAX); }));
	for (size_t cut = 1; cut < two.size(); cut++)
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_fields(two.substr(0, cut), 2, SIZE_MAX); }))
		    << "cut at " << cut;
	std::string negative = std::string("\0\1", 2) + be32(0xfffffffe);
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_fields(negative, 1, SIZE_MAX); }));
	// A length that claims 2 GiB with a few bytes behind it fails without allocating 2 GiB.
	std::string huge = std::string("\0\1", 2) + be32(0x7fffffff) + "abc";
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_fields(huge, 1, SIZE_MAX); }));
}

TEST(CopyTupleReader, TuplesAcrossItsReadAheadComeWholeWithTheirRawBytes) {
	// Tuples of varying sizes, so that the 64 kB read-ahead ends inside every part of one
	// (its field count, a length, a value) somewhere in the stream.
	std::vector<std::vector<Field>> rows;
	std::vector<std::string> raw;
	std::string data;
	for (size_t i = 0; i < 20000; i++) {
		rows.push_back({std::string(i % 37, char('a' + i % 26)), i % 5 ? Field{std::to_string(i)} : Field{}});
		raw.push_back(tuple(rows.back()));
		data += raw.back();
	}
	for (size_t chunk : {size_t(7), size_t(65535), SIZE_MAX}) {
		auto src = memory_source(data, chunk);
		CopyTupleReader reader(*src, 2);
		std::vector<CopyTupleReader::Field> got;
		size_t n = 0;
		while (reader.next(got)) {
			ASSERT_LT(n, rows.size());
			EXPECT_EQ(reader.raw(), raw[n]) << "tuple " << n << ", pieces of " << chunk;
			ASSERT_EQ(got.size(), 2u);
			EXPECT_EQ(std::string(reinterpret_cast<const char *>(got[0].data), got[0].length), *rows[n][0]);
			n++;
		}
		EXPECT_EQ(n, rows.size()) << "pieces of " << chunk;
	}
}
