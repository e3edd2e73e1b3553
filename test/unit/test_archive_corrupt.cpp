// Damaged, truncated and foreign archives: reading must fail with a Corrupt error, never crash and
// never pass as a good archive.
#include "archive_support.hpp"

#include "core/stream/zstd_stream.hpp"

using namespace tbtest;
using tb::ErrorKind;

namespace {

::testing::AssertionResult read_is_corrupt(const std::string &file, size_t source_chunk = 65536) {
	return throws_kind(ErrorKind::Corrupt, [&] { read_archive(file, source_chunk); });
}

// Reading only the first len bytes of file fails with a Corrupt error.
::testing::AssertionResult cut_is_corrupt(const std::string &file, size_t len, size_t source_chunk = 65536) {
	return throws_kind(ErrorKind::Corrupt, [&] { read_archive(file, source_chunk, 65536, len); });
}

// Either reads to the end or throws a Corrupt error; anything else fails the test.
::testing::AssertionResult reads_or_is_corrupt(const std::string &file, bool *failed) {
	*failed = false;
	try {
		read_archive(file);
	} catch (const tb::Error &e) {
		if (e.kind() != ErrorKind::Corrupt)
			return ::testing::AssertionFailure() << "kind " << kind_name(e.kind()) << ": " << e.what();
		*failed = true;
	} catch (const std::exception &e) {
		return ::testing::AssertionFailure() << "foreign exception: " << e.what();
	}
	return ::testing::AssertionSuccess();
}

std::string zstd(const std::string &data) {
	std::string out;
	tb::ZstdCompressSink z(std::make_unique<StringSink>(out), 3);
	z.write(bytes_of(data), data.size());
	z.finish();
	return out;
}

// A well-formed uncompressed archive built by hand: one table of two rows.
std::string good_raw_archive(const std::string &tail_records = "") {
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	return file_header() + header_record("tenant", "{}") + record('T', table_payload(t)) +
	       record('D', tuple({be32(1)}) + tuple({Field()})) + record('E', u64_payload({2})) + tail_records +
	       record('Z', u64_payload({1, 2}));
}

} // namespace

TEST(ArchiveCorrupt, HandMadeArchiveIsReadable) {
	// The baseline for the hand-made damaged archives below.
	ReadArchive got = read_archive(good_raw_archive());
	EXPECT_EQ(got.tenant, "tenant");
	ASSERT_EQ(got.tables.size(), 1u);
	EXPECT_EQ(got.tables[0].row_count, 2u);
	EXPECT_EQ(got.total_rows, 2u);
	// The same body compressed is as good.
	std::string raw = good_raw_archive();
	std::string packed = file_header(1, ar::kFlagZstd) + zstd(raw.substr(ar::kFileHeaderSize));
	EXPECT_EQ(read_archive(packed).total_rows, 2u);
}

TEST(ArchiveCorrupt, EveryTruncationOfUncompressedArchive) {
	std::string file = write_archive(small_spec(), false);
	ASSERT_NO_THROW(read_archive(file));
	for (size_t len = 0; len < file.size(); len++)
		ASSERT_TRUE(cut_is_corrupt(file, len)) << "cut at " << len << " of " << file.size();
}

TEST(ArchiveCorrupt, EveryTruncationOfCompressedArchive) {
	std::string file = write_archive(small_spec(), true);
	ASSERT_NO_THROW(read_archive(file));
	for (size_t len = 0; len < file.size(); len++)
		ASSERT_TRUE(cut_is_corrupt(file, len)) << "cut at " << len << " of " << file.size();
}

TEST(ArchiveCorrupt, EveryTruncationOfZeroTableArchive) {
	ArchiveSpec spec;
	spec.tenant = "x";
	for (bool compress : {false, true}) {
		std::string file = write_archive(spec, compress);
		ASSERT_NO_THROW(read_archive(file));
		for (size_t len = 0; len < file.size(); len++)
			ASSERT_TRUE(cut_is_corrupt(file, len)) << "cut at " << len << ", compressed " << compress;
	}
}

TEST(ArchiveCorrupt, TruncationsOfLargeUncompressedArchive) {
	std::string file = write_archive(large_spec(), false);
	ASSERT_NO_THROW(read_archive(file));
	// A dense sample, plus every cut within a few bytes of each record boundary.
	std::vector<size_t> cuts;
	for (size_t len = 0; len < file.size(); len += 16381)
		cuts.push_back(len);
	for (const auto &rec : raw_records(file))
		for (size_t d = 0; d <= 14; d++)
			for (size_t at : {rec.offset + d, rec.offset - std::min(rec.offset, d)})
				if (at < file.size())
					cuts.push_back(at);
	for (size_t d = 1; d <= 64; d++)
		cuts.push_back(file.size() - d);
	for (size_t len : cuts)
		ASSERT_TRUE(cut_is_corrupt(file, len, 1 << 20)) << "cut at " << len << " of " << file.size();
}

TEST(ArchiveCorrupt, TruncationsOfLargeCompressedArchive) {
	std::string file = write_archive(large_spec(), true);
	ASSERT_NO_THROW(read_archive(file));
	std::vector<size_t> cuts;
	for (size_t len = 0; len < file.size(); len += 8191)
		cuts.push_back(len);
	for (size_t d = 1; d <= 64; d++)
		cuts.push_back(file.size() - d);
	for (size_t len : cuts)
		ASSERT_TRUE(cut_is_corrupt(file, len, 1 << 20)) << "cut at " << len << " of " << file.size();
}

TEST(ArchiveCorrupt, TruncationWhileSkippingTables) {
	// next_table() drains the unread rows of the table it leaves: a cut found there is Corrupt too.
	std::string file = write_archive(large_spec(), false);
	for (size_t len : {file.size() / 3, file.size() / 2, file.size() - 100}) {
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt,
		                        [&] {
			                        ar::ArchiveReader r(memory_source(file.substr(0, len)));
			                        while (r.next_table()) {
			                        }
		                        }))
		    << "cut at " << len;
	}
}

TEST(ArchiveCorrupt, TrailingGarbageAfterEndRecord) {
	std::string plain = write_archive(small_spec(), false);
	for (const std::string &tail :
	     {std::string(1, '\0'), std::string("Z"), std::string(100, 'x'), record('Z', u64_payload({4, 48}))})
		EXPECT_TRUE(read_is_corrupt(plain + tail)) << "uncompressed, tail of " << tail.size();

	std::string packed = write_archive(small_spec(), true);
	for (const std::string &tail : {std::string(1, '\0'), std::string("\x28\xb5\x2f\xfd", 4), std::string(100, 'x'),
	                                zstd("more"), zstd(record('Z', u64_payload({4, 48})))})
		EXPECT_TRUE(read_is_corrupt(packed + tail)) << "compressed, tail of " << tail.size();
	// A second zstd frame that holds nothing is no real garbage; it must at least be handled.
	bool failed;
	EXPECT_TRUE(reads_or_is_corrupt(packed + zstd(""), &failed));
}

TEST(ArchiveCorrupt, BadMagic) {
	std::string file = write_archive(small_spec(), false);
	for (size_t i = 0; i < sizeof(ar::kMagic); i++) {
		std::string bad = file;
		bad[i] = static_cast<char>(bad[i] ^ 0x20);
		EXPECT_TRUE(read_is_corrupt(bad)) << "magic byte " << i;
	}
	EXPECT_TRUE(read_is_corrupt(""));
	EXPECT_TRUE(read_is_corrupt(std::string("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\xff\xff", 21)));
	EXPECT_TRUE(read_is_corrupt(zstd(file))) << "a compressed file is not an archive";
}

TEST(ArchiveCorrupt, UnknownVersion) {
	std::string body = good_raw_archive().substr(ar::kFileHeaderSize);
	for (uint16_t version : {0, 2, 256, 0xffff})
		EXPECT_TRUE(read_is_corrupt(file_header(version) + body)) << "version " << version;
}

TEST(ArchiveCorrupt, UnknownFlags) {
	std::string body = good_raw_archive().substr(ar::kFileHeaderSize);
	for (uint16_t flags : {2, 4, 0x100, 0x8000, 0xfffe})
		EXPECT_TRUE(read_is_corrupt(file_header(1, flags) + body)) << "flags " << flags;
	std::string packed = zstd(body);
	for (uint16_t flags : {3, 0x8001, 0xffff})
		EXPECT_TRUE(read_is_corrupt(file_header(1, flags) + packed)) << "flags " << flags;
}

TEST(ArchiveCorrupt, FlagsThatDoNotMatchTheBody) {
	std::string body = good_raw_archive().substr(ar::kFileHeaderSize);
	EXPECT_TRUE(read_is_corrupt(file_header(1, ar::kFlagZstd) + body)) << "plain body marked compressed";
	EXPECT_TRUE(read_is_corrupt(file_header(1, 0) + zstd(body))) << "compressed body marked plain";
}

TEST(ArchiveCorrupt, MalformedRecords) {
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	std::string T = record('T', table_payload(t));
	std::string H = header_record("x", "");
	std::string D = record('D', tuple({be32(7)}));
	std::string E1 = record('E', u64_payload({1}));
	std::string h = file_header();
	struct Case {
		const char *what;
		std::string file;
	};
	std::string huge_len_header(1, 'H');
	ar::put_u32(huge_len_header, 0xffffffffu);
	std::string big_data(1, 'D');
	ar::put_u32(big_data, ar::kMaxDataRecord + 1);
	std::string many_columns;
	ar::put_string(many_columns, "s");
	ar::put_string(many_columns, "t");
	ar::put_string(many_columns, "c");
	ar::put_u32(many_columns, 1601);
	std::string short_columns;
	ar::put_string(short_columns, "s");
	ar::put_string(short_columns, "t");
	ar::put_string(short_columns, "c");
	ar::put_u32(short_columns, 3); // claims three columns, holds none
	std::string over_meta(1, 'T');
	ar::put_u32(over_meta, ar::kMaxMetaRecord + 1);

	const Case cases[] = {
	    {"header only", h},
	    {"no header record", h + T + D + E1 + record('Z', u64_payload({1, 1}))},
	    {"header record claims 4 GiB", h + huge_len_header},
	    {"header record too short", h + record('H', std::string("\x05\0\0\0ab", 6))},
	    {"header record with trailing bytes", h + record('H', std::string(8, '\0') + "!")},
	    {"two header records", h + H + H + record('Z', u64_payload({0, 0}))},
	    {"data outside a table", h + H + D + record('Z', u64_payload({0, 0}))},
	    {"end of table outside a table", h + H + E1 + record('Z', u64_payload({1, 1}))},
	    {"header inside a table", h + H + T + H + E1 + record('Z', u64_payload({1, 0}))},
	    {"table inside a table", h + H + T + T + E1 + E1 + record('Z', u64_payload({2, 2}))},
	    {"end of archive inside a table", h + H + T + D + record('Z', u64_payload({0, 0}))},
	    {"unknown record type", h + H + record('X', "") + record('Z', u64_payload({0, 0}))},
	    {"unknown record inside a table", h + H + T + record('d', "x") + E1 + record('Z', u64_payload({1, 1}))},
	    {"data record over the limit", h + H + T + big_data + std::string(ar::kMaxDataRecord + 1, '\0')},
	    {"metadata record over the limit", h + H + over_meta},
	    {"table with 1601 columns", h + H + record('T', many_columns) + E1 + record('Z', u64_payload({1, 0}))},
	    {"table record too short", h + H + record('T', short_columns) + E1 + record('Z', u64_payload({1, 0}))},
	    {"table record with trailing bytes", h + H + record('T', table_payload(t) + "x") + E1},
	    {"table end too short", h + H + T + D + record('E', "1234") + record('Z', u64_payload({1, 1}))},
	    {"table end with trailing bytes",
	     h + H + T + D + record('E', u64_payload({1, 0})) + record('Z', u64_payload({1, 1}))},
	    {"missing end record", h + H + T + D + E1},
	    {"end record counts too few tables", h + H + T + D + E1 + record('Z', u64_payload({0, 1}))},
	    {"end record counts too many tables", h + H + T + D + E1 + record('Z', u64_payload({2, 1}))},
	    {"end record counts wrong rows", h + H + T + D + E1 + record('Z', u64_payload({1, 2}))},
	    {"end record too short", h + H + record('Z', "12345678")},
	    {"end record with trailing bytes", h + H + record('Z', u64_payload({0, 0, 0}))},
	    {"data cut inside its record", h + H + T + record('D', "abcdef").substr(0, 8)},
	};
	for (const auto &c : cases) {
		EXPECT_TRUE(read_is_corrupt(c.file)) << c.what;
		std::string packed = file_header(1, ar::kFlagZstd) + zstd(c.file.substr(ar::kFileHeaderSize));
		EXPECT_TRUE(read_is_corrupt(packed)) << c.what << " (compressed)";
	}
}

TEST(ArchiveCorrupt, EmptyDataRecordsAreTolerated) {
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	std::string file = file_header() + header_record("x", "") + record('T', table_payload(t)) + record('D', "") +
	                   record('D', tuple({be32(5)})) + record('D', "") + record('E', u64_payload({1})) +
	                   record('Z', u64_payload({1, 1}));
	ReadArchive got = read_archive(file);
	ASSERT_EQ(got.tables.size(), 1u);
	EXPECT_EQ(got.tables[0].rows, tuple({be32(5)}));
}

TEST(ArchiveCorrupt, FlippedByteInUncompressedArchive) {
	std::string file = write_archive(small_spec(), false);
	auto recs = raw_records(file);
	// Bytes whose damage must be detected: the file header, every record header and the counts of
	// the table-end and archive-end records. Tuple bytes and names are not checksummed here.
	std::vector<bool> structural(file.size(), false);
	for (size_t i = 0; i < ar::kFileHeaderSize; i++)
		structural[i] = true;
	for (const auto &rec : recs) {
		for (size_t i = 0; i < 5; i++)
			structural[rec.offset + i] = true;
		if (rec.type == 'E' || rec.type == 'Z')
			for (size_t i = 0; i < rec.length; i++)
				structural[rec.offset + 5 + i] = true;
	}
	size_t detected = 0;
	for (size_t pos = 0; pos < file.size(); pos++) {
		for (uint8_t mask : {0xff, 0x01, 0x80}) {
			std::string bad = file;
			bad[pos] = static_cast<char>(bad[pos] ^ mask);
			bool failed = false;
			ASSERT_TRUE(reads_or_is_corrupt(bad, &failed)) << "byte " << pos << " ^ " << int(mask);
			if (structural[pos]) {
				ASSERT_TRUE(failed) << "damage to structural byte " << pos << " ^ " << int(mask) << " went unseen";
			}
			detected += failed;
		}
	}
	EXPECT_GT(detected, 0u);
}

TEST(ArchiveCorrupt, FlippedByteInCompressedArchive) {
	std::string file = write_archive(small_spec(), true);
	size_t detected = 0;
	for (size_t pos = 0; pos < file.size(); pos++) {
		for (uint8_t mask : {0xff, 0x01, 0x10}) {
			std::string bad = file;
			bad[pos] = static_cast<char>(bad[pos] ^ mask);
			bool failed = false;
			ASSERT_TRUE(reads_or_is_corrupt(bad, &failed)) << "byte " << pos << " ^ " << int(mask);
			if (pos < ar::kFileHeaderSize) {
				ASSERT_TRUE(failed) << "damage to file header byte " << pos << " went unseen";
			}
			detected += failed;
		}
	}
	EXPECT_GT(detected, 0u);
}

TEST(ArchiveCorrupt, FlippedBytesInLargeArchiveSample) {
	for (bool compress : {false, true}) {
		std::string file = write_archive(large_spec(), compress);
		for (size_t pos = 0; pos < file.size(); pos += 49999) {
			std::string bad = file;
			bad[pos] = static_cast<char>(bad[pos] ^ 0xa5);
			bool failed = false;
			ASSERT_TRUE(reads_or_is_corrupt(bad, &failed)) << "byte " << pos << ", compressed " << compress;
		}
	}
}
