// Damaged, truncated and foreign archives: reading must fail with a Corrupt error, never crash and
// never pass as a good archive.
#include "archive_support.hpp"

using namespace tbtest;
using tb::ErrorKind;

namespace {

::testing::AssertionResult read_is_corrupt(const std::string &file,
                                           const ar::ReaderOptions &options = reader_options(kHandTenant),
                                           size_t source_chunk = 65536) {
	return throws_kind(ErrorKind::Corrupt, [&] { read_archive(file, options, source_chunk); });
}

// Reading only the first len bytes of file fails with a Corrupt error.
::testing::AssertionResult cut_is_corrupt(const std::string &file, size_t len, const ar::ReaderOptions &options,
                                          size_t source_chunk = 65536) {
	return throws_kind(ErrorKind::Corrupt, [&] { read_archive(file, options, source_chunk, 65536, len); });
}

// A well-formed archive built by hand: one table of two rows, each section sealed on its own.
std::string good_hand_made_archive(uint16_t flags = 0) {
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	std::string table = record('T', table_payload(t)) + record('D', tuple({be32(1)}) + tuple({Field()})) +
	                    record('E', u64_payload({2}));
	ar::FileHeader h = file_header(flags);
	// Seal once to learn where the table's section starts, then again with a true index.
	std::vector<std::pair<uint64_t, uint64_t>> starts;
	auto trailer = [&](uint64_t chunk, uint64_t offset) {
		return record('Z', trailer_payload(1, 2, {{"s", "t", chunk, offset, 2}}));
	};
	seal_archive(h, {header_record(kHandTenant, "{}"), table, trailer(0, 0)}, kHandTenant, std::nullopt, &starts);
	return seal_archive(h, {header_record(kHandTenant, "{}"), table, trailer(starts[1].second, starts[1].first)});
}

// The header, then data sealed into chunks as it is (compressed or not, whatever the header
// says), then a footer that points at the first chunk.
std::string seal_as_is(const ar::FileHeader &header, const std::string &data) {
	std::string file = header.serialize();
	StringSink sink(file);
	cr::ChunkParams p;
	p.base_nonce = header.base_nonce;
	p.context = ar::chunk_context(header, kHandTenant);
	p.chunk_size = header.chunk_size;
	cr::ChunkSealSink seal(sink, p);
	seal.write(bytes_of(data), data.size());
	seal.finish();
	return file + footer(ar::kFileHeaderSize, 0);
}

// Cuts of file: a sample every `step` bytes, every cut within `near` bytes of each chunk
// boundary and of the footer, and the last 64 lengths.
std::vector<size_t> cuts_of(const std::string &file, size_t step, size_t near) {
	std::vector<size_t> cuts;
	for (size_t len = 0; len < file.size(); len += step)
		cuts.push_back(len);
	RawArchive raw = raw_archive(file);
	std::vector<size_t> marks = {ar::kFileHeaderSize, raw.footer_offset};
	for (const auto &c : raw.chunks)
		marks.push_back(c.offset);
	for (size_t at : marks)
		for (size_t d = 0; d <= near; d++)
			for (size_t len : {at + d, at - std::min(at, d)})
				if (len < file.size())
					cuts.push_back(len);
	for (size_t d = 1; d <= 64; d++)
		cuts.push_back(file.size() - d);
	std::sort(cuts.begin(), cuts.end());
	cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
	return cuts;
}

void expect_every_cut_is_corrupt(const ArchiveSpec &spec, const ar::WriterOptions &wo, const ar::ReaderOptions &ro) {
	std::string file = write_archive(spec, wo);
	ASSERT_NO_THROW(read_archive(file, ro));
	for (size_t len = 0; len < file.size(); len++)
		ASSERT_TRUE(cut_is_corrupt(file, len, ro)) << "cut at " << len << " of " << file.size();
}

} // namespace

TEST(ArchiveCorrupt, HandMadeArchiveIsReadable) {
	// The baseline for the hand-made damaged archives below: hand-made plaintext sealed into
	// valid chunks reads back, compressed or not, and its index works.
	for (uint16_t flags : {0, int(ar::kFlagZstd)}) {
		std::string file = good_hand_made_archive(flags);
		ReadArchive got = read_archive(file, reader_options(kHandTenant));
		EXPECT_EQ(got.tenant, kHandTenant);
		EXPECT_EQ(got.metadata, "{}");
		ASSERT_EQ(got.tables.size(), 1u);
		EXPECT_EQ(got.tables[0].row_count, 2u);
		EXPECT_EQ(got.tables[0].rows, tuple({be32(1)}) + tuple({Field()}));
		EXPECT_EQ(got.total_rows, 2u);
		MemoryStorage storage;
		storage.objects["h"] = file;
		auto index = ar::read_archive_index(storage, "h", reader_options(kHandTenant));
		ASSERT_EQ(index.size(), 1u);
		EXPECT_EQ(read_table_via_index(storage, "h", reader_options(kHandTenant), index[0]).rows, got.tables[0].rows);
	}
}

TEST(ArchiveCorrupt, EveryTruncationOfUncompressedArchive) {
	expect_every_cut_is_corrupt(small_spec(), writer_options(false), reader_options(small_spec().tenant));
}

TEST(ArchiveCorrupt, EveryTruncationOfCompressedArchive) {
	expect_every_cut_is_corrupt(small_spec(), writer_options(true), reader_options(small_spec().tenant));
}

TEST(ArchiveCorrupt, EveryTruncationOfEncryptedArchive) {
	for (bool compress : {false, true})
		expect_every_cut_is_corrupt(small_spec(), writer_options(compress, test_key(1), 512),
		                            reader_options(small_spec().tenant, test_key(1)));
}

TEST(ArchiveCorrupt, EveryTruncationOfZeroTableArchive) {
	ArchiveSpec spec;
	spec.tenant = "x";
	for (bool compress : {false, true})
		for (bool encrypt : {false, true}) {
			auto key = encrypt ? std::optional<cr::Key>(test_key(1)) : std::nullopt;
			expect_every_cut_is_corrupt(spec, writer_options(compress, key), reader_options("x", key));
		}
}

TEST(ArchiveCorrupt, EveryTruncationWithTinyChunks) {
	// Chunks of 7 bytes: cuts fall in chunk headers, data and tags of many chunks.
	expect_every_cut_is_corrupt(tiny_spec(), writer_options(true, test_key(1), 7),
	                            reader_options(tiny_spec().tenant, test_key(1)));
	expect_every_cut_is_corrupt(tiny_spec(), writer_options(false, std::nullopt, 7),
	                            reader_options(tiny_spec().tenant));
}

TEST(ArchiveCorrupt, TruncationsOfLargeArchives) {
	ArchiveSpec spec = large_spec();
	for (bool compress : {false, true})
		for (bool encrypt : {false, true}) {
			auto key = encrypt ? std::optional<cr::Key>(test_key(1)) : std::nullopt;
			ar::ReaderOptions ro = reader_options(spec.tenant, key);
			std::string file = write_archive(spec, writer_options(compress, key));
			ASSERT_NO_THROW(read_archive(file, ro));
			for (size_t len : cuts_of(file, 131071, 6))
				ASSERT_TRUE(cut_is_corrupt(file, len, ro, 1 << 20))
				    << "cut at " << len << " of " << file.size() << ", compressed " << compress << ", encrypted "
				    << encrypt;
		}
}

TEST(ArchiveCorrupt, TruncationWhileSkippingTables) {
	// next_table() drains the unread rows of the table it leaves: a cut found there is Corrupt too.
	ArchiveSpec spec = large_spec();
	std::string file = write_archive(spec, false);
	for (size_t len : {file.size() / 3, file.size() / 2, file.size() - 100}) {
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt,
		                        [&] {
			                        ar::ArchiveReader r(memory_source(file.substr(0, len)),
			                                            reader_options(spec.tenant));
			                        while (r.next_table()) {
			                        }
		                        }))
		    << "cut at " << len;
	}
}

TEST(ArchiveCorrupt, TrailingGarbageAfterFooter) {
	for (bool compress : {false, true})
		for (bool encrypt : {false, true}) {
			auto key = encrypt ? std::optional<cr::Key>(test_key(1)) : std::nullopt;
			ar::ReaderOptions ro = reader_options(small_spec().tenant, key);
			std::string file = write_archive(small_spec(), writer_options(compress, key));
			ASSERT_NO_THROW(read_archive(file, ro));
			RawArchive raw = raw_archive(file);
			std::string final_chunk = file.substr(raw.chunks.back().offset, raw.chunks.back().size());
			std::string the_footer = file.substr(raw.footer_offset);
			for (const std::string &tail : {std::string(1, '\0'), std::string("Z"), std::string(100, 'x'), the_footer,
			                                final_chunk, final_chunk + the_footer})
				EXPECT_TRUE(read_is_corrupt(file + tail, ro))
				    << "tail of " << tail.size() << ", compressed " << compress << ", encrypted " << encrypt;
			// Bytes between the final chunk and the footer.
			for (const std::string &extra : {std::string(1, '\0'), final_chunk, std::string(24, '\0')}) {
				std::string bad = file.substr(0, raw.footer_offset) + extra + the_footer;
				EXPECT_TRUE(read_is_corrupt(bad, ro)) << "inserted " << extra.size() << " bytes before the footer";
			}
		}
}

TEST(ArchiveCorrupt, DamagedFooter) {
	std::string file = write_archive(small_spec(), writer_options(false, std::nullopt, 4096));
	ar::ReaderOptions ro = reader_options(small_spec().tenant);
	RawArchive raw = raw_archive(file);
	ASSERT_GT(raw.trailer_chunk, 0u);
	auto with_footer = [&](uint64_t offset, uint64_t chunk) {
		return file.substr(0, raw.footer_offset) + footer(offset, chunk);
	};
	ASSERT_NO_THROW(read_archive(with_footer(raw.trailer_offset, raw.trailer_chunk), ro));
	EXPECT_TRUE(read_is_corrupt(with_footer(raw.trailer_offset + 1, raw.trailer_chunk), ro)) << "offset + 1";
	EXPECT_TRUE(read_is_corrupt(with_footer(raw.trailer_offset, raw.trailer_chunk - 1), ro)) << "chunk - 1";
	EXPECT_TRUE(read_is_corrupt(with_footer(raw.trailer_offset, raw.trailer_chunk + 1), ro)) << "chunk + 1";
	EXPECT_TRUE(read_is_corrupt(with_footer(0, 0), ro));
	EXPECT_TRUE(read_is_corrupt(with_footer(UINT64_MAX, UINT64_MAX), ro));
	std::string bad_magic = file;
	bad_magic.back() ^= 1;
	EXPECT_TRUE(read_is_corrupt(bad_magic, ro));
	EXPECT_TRUE(read_is_corrupt(file.substr(0, raw.footer_offset) + std::string(24, '\0'), ro));
}

TEST(ArchiveCorrupt, BadMagic) {
	std::string file = write_archive(small_spec(), false);
	ar::ReaderOptions ro = reader_options(small_spec().tenant);
	for (size_t i = 0; i < sizeof(ar::kMagic); i++) {
		std::string bad = file;
		bad[i] = static_cast<char>(bad[i] ^ 0x20);
		EXPECT_TRUE(read_is_corrupt(bad, ro)) << "magic byte " << i;
	}
	EXPECT_TRUE(read_is_corrupt("", ro));
	EXPECT_TRUE(read_is_corrupt(std::string("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\xff\xff", 21), ro));
	EXPECT_TRUE(read_is_corrupt(zstd(file), ro)) << "a compressed file is not an archive";
	EXPECT_TRUE(read_is_corrupt(file.substr(ar::kFileHeaderSize), ro)) << "an archive without its header";
}

TEST(ArchiveCorrupt, UnknownVersion) {
	for (uint16_t version : {0, 3, 256, 0xffff}) {
		ar::FileHeader h = file_header();
		h.version = version;
		std::string file = seal_archive(h, {header_record(kHandTenant, "")});
		EXPECT_TRUE(read_is_corrupt(file)) << "version " << version;
	}
}

TEST(ArchiveCorrupt, UnknownFlags) {
	std::string body = header_record(kHandTenant, "");
	for (uint16_t flags : {4, 0x100, 0x8000, 0xfffc, 5, 0x8001, 0xffff})
		EXPECT_TRUE(read_is_corrupt(seal_archive({body}, flags))) << "flags " << flags;
}

TEST(ArchiveCorrupt, ReservedBytesAreSet) {
	std::string good = good_hand_made_archive();
	ASSERT_NO_THROW(read_archive(good, reader_options(kHandTenant)));
	for (size_t i = 40; i < ar::kFileHeaderSize; i++) {
		std::string bad = good;
		bad[i] = 1;
		EXPECT_TRUE(read_is_corrupt(bad)) << "reserved byte " << i;
	}
}

TEST(ArchiveCorrupt, BadChunkSizeInHeader) {
	std::string body = header_record(kHandTenant, "");
	for (uint32_t chunk_size : {0u, cr::kMaxChunkSize + 1, 0xffffffffu}) {
		std::string file = seal_archive(file_header(), {body});
		std::string size;
		ar::put_u32(size, chunk_size);
		file.replace(12, 4, size);
		EXPECT_TRUE(read_is_corrupt(file)) << "chunk size " << chunk_size;
	}
}

TEST(ArchiveCorrupt, KeyGenerationMustMatchTheFlags) {
	// Encrypted without a key generation, or a key generation without encryption.
	ar::ReaderOptions ro = reader_options(kHandTenant, test_key(1));
	ar::FileHeader h = file_header(ar::kFlagEncrypted);
	h.key_generation = 0;
	EXPECT_TRUE(read_is_corrupt(seal_archive(h, {header_record(kHandTenant, "")}, kHandTenant, test_key(1)), ro));
	h = file_header();
	h.key_generation = 1;
	EXPECT_TRUE(read_is_corrupt(seal_archive(h, {header_record(kHandTenant, "")}), ro));
}

TEST(ArchiveCorrupt, FlagsThatDoNotMatchTheBody) {
	// The chunks are valid (sealed under the header that claims the flag), the body is not what
	// the flag says.
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	std::string body = header_record(kHandTenant, "{}") + record('T', table_payload(t)) +
	                   record('D', tuple({be32(1)})) + record('E', u64_payload({1})) +
	                   record('Z', trailer_payload(1, 1, {{"s", "t", 0, 0, 1}}));
	ASSERT_NO_THROW(read_archive(seal_as_is(file_header(), body), reader_options(kHandTenant)));
	ASSERT_NO_THROW(read_archive(seal_as_is(file_header(ar::kFlagZstd), zstd(body)), reader_options(kHandTenant)));
	EXPECT_TRUE(read_is_corrupt(seal_as_is(file_header(ar::kFlagZstd), body))) << "plain body marked compressed";
	EXPECT_TRUE(read_is_corrupt(seal_as_is(file_header(), zstd(body)))) << "compressed body marked plain";
	// And flipping the flag of a real archive changes the associated data of every chunk.
	std::string real = write_archive(small_spec(), false);
	real[10] ^= ar::kFlagZstd;
	EXPECT_TRUE(read_is_corrupt(real, reader_options(small_spec().tenant)));
}

TEST(ArchiveCorrupt, MalformedRecords) {
	// Hand-made record sequences behind valid chunks: the record parser must reject each.
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	std::string T = record('T', table_payload(t));
	std::string H = header_record(kHandTenant, "");
	std::string D = record('D', tuple({be32(7)}));
	std::string E1 = record('E', u64_payload({1}));
	auto Z = [](uint64_t tables, uint64_t rows) {
		std::vector<ar::TableIndexEntry> index;
		for (uint64_t i = 0; i < tables; i++)
			index.push_back({"s", "t", 1, 100, rows});
		return record('Z', trailer_payload(tables, rows, index));
	};
	struct Case {
		const char *what;
		std::string body;
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
	    {"no records at all", ""},
	    {"no header record", T + D + E1 + Z(1, 1)},
	    {"header record claims 4 GiB", huge_len_header},
	    {"header record too short", record('H', std::string("\x05\0\0\0ab", 6))},
	    {"header record with trailing bytes", record('H', std::string(8, '\0') + "!")},
	    {"two header records", H + H + Z(0, 0)},
	    {"data outside a table", H + D + Z(0, 0)},
	    {"end of table outside a table", H + E1 + Z(1, 1)},
	    {"header inside a table", H + T + H + E1 + Z(1, 0)},
	    {"table inside a table", H + T + T + E1 + E1 + Z(2, 2)},
	    {"end of archive inside a table", H + T + D + Z(0, 0)},
	    {"unknown record type", H + record('X', "") + Z(0, 0)},
	    {"unknown record inside a table", H + T + record('d', "x") + E1 + Z(1, 1)},
	    {"data record over the limit", H + T + big_data + std::string(ar::kMaxDataRecord + 1, '\0')},
	    {"metadata record over the limit", H + over_meta},
	    {"table with 1601 columns", H + record('T', many_columns) + E1 + Z(1, 0)},
	    {"table record too short", H + record('T', short_columns) + E1 + Z(1, 0)},
	    {"table record with trailing bytes", H + record('T', table_payload(t) + "x") + E1},
	    {"table end too short", H + T + D + record('E', "1234") + Z(1, 1)},
	    {"table end with trailing bytes", H + T + D + record('E', u64_payload({1, 0})) + Z(1, 1)},
	    {"missing end record", H + T + D + E1},
	    {"end record counts too few tables", H + T + D + E1 + record('Z', trailer_payload(0, 1, {}))},
	    {"end record counts too many tables", H + T + D + E1 + Z(2, 1)},
	    {"end record counts wrong rows", H + T + D + E1 + Z(1, 2)},
	    {"end record too short", H + record('Z', "12345678")},
	    {"end record with trailing bytes", H + record('Z', u64_payload({0, 0, 0}))},
	    {"data cut inside its record", H + T + record('D', "abcdef").substr(0, 8)},
	    {"bytes after the end record", H + Z(0, 0) + "junk"},
	    {"a table after the end record", H + Z(0, 0) + T + E1},
	    // The trailer's index must describe the tables that were read.
	    {"index names another table", H + T + D + E1 + record('Z', trailer_payload(1, 1, {{"s", "u", 1, 100, 1}}))},
	    {"index names another schema", H + T + D + E1 + record('Z', trailer_payload(1, 1, {{"r", "t", 1, 100, 1}}))},
	    {"index records other rows", H + T + D + E1 + record('Z', trailer_payload(1, 1, {{"s", "t", 1, 100, 2}}))},
	    {"index entry cut short",
	     H + T + D + E1 + record('Z', trailer_payload(1, 1, {{"s", "t", 1, 100, 1}}).substr(0, 40))},
	    {"index with trailing bytes",
	     H + T + D + E1 + record('Z', trailer_payload(1, 1, {{"s", "t", 1, 100, 1}}) + "x")},
	};
	size_t n = 0;
	for (const auto &c : cases) {
		for (uint16_t flags : {0, int(ar::kFlagZstd)}) {
			// All in one section, and (for bodies that have records) split into sections.
			EXPECT_TRUE(read_is_corrupt(seal_archive({c.body}, flags))) << c.what << ", flags " << flags;
			EXPECT_TRUE(read_is_corrupt(seal_archive(file_header(flags, 5), {c.body}, kHandTenant)))
			    << c.what << " in chunks of 5 bytes, flags " << flags;
		}
		n++;
	}
	EXPECT_EQ(n, 34u);
	// The same parser check on a control: the well-formed sequence passes.
	ASSERT_NO_THROW(read_archive(seal_archive({H, T + D + E1, Z(1, 1)}), reader_options(kHandTenant)));
	ASSERT_NO_THROW(read_archive(seal_archive({H + T + D + E1 + Z(1, 1)}), reader_options(kHandTenant)))
	    << "the full reader does not insist on sections";
}

TEST(ArchiveCorrupt, EmptyDataRecordsAreTolerated) {
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	std::string file = seal_archive({header_record(kHandTenant, ""),
	                                 record('T', table_payload(t)) + record('D', "") + record('D', tuple({be32(5)})) +
	                                     record('D', "") + record('E', u64_payload({1})),
	                                 record('Z', trailer_payload(1, 1, {{"s", "t", 1, 100, 1}}))});
	ReadArchive got = read_archive(file, reader_options(kHandTenant));
	ASSERT_EQ(got.tables.size(), 1u);
	EXPECT_EQ(got.tables[0].rows, tuple({be32(5)}));
}

TEST(ArchiveCorrupt, FlippedBytesInLargeArchiveSample) {
	ArchiveSpec spec = large_spec();
	for (bool compress : {false, true})
		for (bool encrypt : {false, true}) {
			auto key = encrypt ? std::optional<cr::Key>(test_key(1)) : std::nullopt;
			ar::ReaderOptions ro = reader_options(spec.tenant, key);
			std::string file = write_archive(spec, writer_options(compress, key));
			for (size_t pos = 0; pos < file.size(); pos += 99991) {
				std::string bad = file;
				bad[pos] = static_cast<char>(bad[pos] ^ 0xa5);
				ASSERT_TRUE(read_is_corrupt(bad, ro, 1 << 20))
				    << "byte " << pos << ", compressed " << compress << ", encrypted " << encrypt;
			}
		}
}

TEST(ArchiveFormat, VersionOneArchivesOfReleaseZeroOneStillRead) {
	// 0.1.0 wrote format 1: its table records end after the columns, with no path.
	auto t = table_header("s", "t", "c", {{"c", "integer"}});
	std::string payload = table_payload(t, false);
	payload.resize(payload.size() - 4); // without format 2's path count
	std::string table = record('T', payload) + record('D', tuple({be32(1)})) + record('E', u64_payload({1}));
	ar::FileHeader h = file_header();
	h.version = 1;
	std::vector<std::pair<uint64_t, uint64_t>> starts;
	auto trailer = [&](uint64_t chunk, uint64_t offset) {
		return record('Z', trailer_payload(1, 1, {{"s", "t", chunk, offset, 1}}));
	};
	seal_archive(h, {header_record(kHandTenant, "{}"), table, trailer(0, 0)}, kHandTenant, std::nullopt, &starts);
	std::string file =
	    seal_archive(h, {header_record(kHandTenant, "{}"), table, trailer(starts[1].second, starts[1].first)});
	ReadArchive got = read_archive(file, reader_options(kHandTenant));
	ASSERT_EQ(got.tables.size(), 1u);
	EXPECT_EQ(got.tables[0].header.tenant_column, "c");
	EXPECT_TRUE(got.tables[0].header.path.empty());
	EXPECT_EQ(got.tables[0].row_count, 1u);
	// The same payload under a format 2 header lacks its path count: damaged, not misread.
	ar::FileHeader h2 = file_header();
	EXPECT_TRUE(read_is_corrupt(seal_archive(h2, {header_record(kHandTenant, "{}"), table, trailer(0, 0)})));
}

namespace {
// A sealed archive of one table record with `payload`, one row and its index (table s.t).
std::string one_table_archive(const std::string &payload) {
	std::string table = record('T', payload) + record('D', tuple({be32(1), be32(2)})) + record('E', u64_payload({1}));
	ar::FileHeader h = file_header();
	auto trailer = [&](uint64_t chunk, uint64_t offset) {
		return record('Z', trailer_payload(1, 1, {{"s", "t", chunk, offset, 1}}));
	};
	std::vector<std::pair<uint64_t, uint64_t>> starts;
	seal_archive(h, {header_record(kHandTenant, "{}"), table, trailer(0, 0)}, kHandTenant, std::nullopt, &starts);
	return seal_archive(h, {header_record(kHandTenant, "{}"), table, trailer(starts[1].second, starts[1].first)});
}
} // namespace

TEST(ArchiveFormat, TableIdentityIsOptionalInVersionTwo) {
	// Format 2 table records written before the table's identity (database, OID, attnums) ended
	// them read without it; written with it, it reads back; an attnum count that is neither 0 nor
	// the column count is damage.
	auto t = table_header("s", "t", "c", {{"c", "integer"}, {"d", "integer"}});
	ReadArchive old = read_archive(one_table_archive(table_payload(t, false)), reader_options(kHandTenant));
	ASSERT_EQ(old.tables.size(), 1u);
	EXPECT_TRUE(old.tables[0].header.database.empty());
	EXPECT_EQ(old.tables[0].header.relid, 0u);
	EXPECT_TRUE(old.tables[0].header.attnums.empty());
	t.database = "7312345678901234567/16384";
	t.relid = 16500;
	t.attnums = {1, 3};
	ReadArchive got = read_archive(one_table_archive(table_payload(t)), reader_options(kHandTenant));
	ASSERT_EQ(got.tables.size(), 1u);
	EXPECT_TRUE(got.tables[0].header == t);
	EXPECT_EQ(got.tables[0].row_count, 1u);
	t.attnums = {1};
	EXPECT_TRUE(read_is_corrupt(one_table_archive(table_payload(t))));
}

TEST(ArchiveFormat, TableConstraintsAreOptionalAfterTheIdentity) {
	// Records written before issue 21 end after the identity: their constraints are not recorded
	// (nullopt, not "none"). Written, they read back; a name that is no column of the record, or
	// unknown key flags, is damage.
	auto t = table_header("s", "t", "c", {{"c", "integer"}, {"d", "integer"}});
	t.database = "7312345678901234567/16384";
	t.relid = 16500;
	t.attnums = {1, 2};
	ReadArchive old = read_archive(one_table_archive(table_payload(t)), reader_options(kHandTenant));
	ASSERT_EQ(old.tables.size(), 1u);
	EXPECT_FALSE(old.tables[0].header.constraints.has_value());
	t.constraints = ar::TableConstraints{{"c", "d"}, {{"c", "d"}, false}, {{{"d"}, true}}};
	ReadArchive got = read_archive(one_table_archive(table_payload(t)), reader_options(kHandTenant));
	ASSERT_EQ(got.tables.size(), 1u);
	ASSERT_TRUE(got.tables[0].header.constraints.has_value());
	EXPECT_TRUE(got.tables[0].header == t);
	EXPECT_EQ(got.tables[0].header.constraints->unique_keys.at(0).columns, std::vector<std::string>{"d"});
	EXPECT_TRUE(got.tables[0].header.constraints->unique_keys.at(0).nulls_not_distinct);
	// None at all is recorded as none.
	t.constraints = ar::TableConstraints{};
	got = read_archive(one_table_archive(table_payload(t)), reader_options(kHandTenant));
	ASSERT_TRUE(got.tables[0].header.constraints.has_value());
	EXPECT_TRUE(got.tables[0].header.constraints->primary_key.columns.empty());
	// Damage: a column the record does not have, unknown flags.
	t.constraints = ar::TableConstraints{{"c"}, {{"e"}, false}, {}};
	EXPECT_TRUE(read_is_corrupt(one_table_archive(table_payload(t))));
	std::string flags = table_payload(ar::TableHeader{t.schema,
	                                                  t.name,
	                                                  t.tenant_column,
	                                                  t.columns,
	                                                  {},
	                                                  t.database,
	                                                  t.relid,
	                                                  t.attnums,
	                                                  ar::TableConstraints{{}, {{"c"}, false}, {}}});
	flags[flags.size() - 8] = 2; // the primary key's flags (then the unique key count)
	EXPECT_TRUE(read_is_corrupt(one_table_archive(flags)));
}
