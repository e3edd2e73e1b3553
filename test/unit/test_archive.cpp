#include "archive_support.hpp"

#include "core/archive/copy_binary.hpp"

using namespace tbtest;

namespace {

// Every archive test runs compressed or not, encrypted or not.
struct Variant {
	bool compress;
	bool encrypt;
	std::optional<cr::Key> key() const { return encrypt ? std::optional<cr::Key>(test_key(1)) : std::nullopt; }
	ar::WriterOptions writer(uint32_t chunk_size = 1u << 20, int level = 3) const {
		return writer_options(compress, key(), chunk_size, level);
	}
	ar::ReaderOptions reader(const std::string &tenant) const { return reader_options(tenant, key()); }
};

std::string variant_name(const ::testing::TestParamInfo<Variant> &info) {
	return std::string(info.param.compress ? "Compressed" : "Uncompressed") +
	       (info.param.encrypt ? "Encrypted" : "Plain");
}

const Variant kVariants[] = {{false, false}, {true, false}, {false, true}, {true, true}};

class ArchiveRoundTrip : public ::testing::TestWithParam<Variant> {
protected:
	const Variant &v() const { return GetParam(); }
	std::string write(const ArchiveSpec &spec, uint32_t chunk_size = 1u << 20, int level = 3) const {
		return write_archive(spec, v().writer(chunk_size, level));
	}
	ReadArchive read(const ArchiveSpec &spec, const std::string &file, size_t source_chunk = 65536,
	                 size_t read_size = 65536) const {
		return read_archive(file, v().reader(spec.tenant), source_chunk, read_size);
	}
	std::unique_ptr<ar::ArchiveReader> reader(const ArchiveSpec &spec, const std::string &file,
	                                          size_t source_chunk = SIZE_MAX) const {
		return std::make_unique<ar::ArchiveReader>(memory_source(file, source_chunk), v().reader(spec.tenant));
	}
};

} // namespace

TEST_P(ArchiveRoundTrip, SmallArchive) {
	ArchiveSpec spec = small_spec();
	std::string file = write(spec);
	expect_same(spec, read(spec, file));
	expect_same(spec, read(spec, file, 1, 1)); // one byte at a time, in and out
	expect_same(spec, read(spec, file, 3, 17));
}

TEST_P(ArchiveRoundTrip, LargeArchiveWithMultiRecordRows) {
	ArchiveSpec spec = large_spec();
	std::string file = write(spec);
	expect_same(spec, read(spec, file, 65536, 65536));
	expect_same(spec, read(spec, file, 7777, 1001));
	expect_same(spec, read(spec, file, (1 << 20) + 5, (1 << 20) + 3));
	expect_same(spec, read(spec, file, SIZE_MAX, 3 << 20));
}

TEST_P(ArchiveRoundTrip, ChunkSizes) {
	// Chunks of one byte, of an odd size, of a page and of the default size: every chunk size
	// gives the same archive contents back, however reads are cut.
	// (Reads of one byte make the decompressor read ahead into the next section's chunk, which the
	// check of the footer must allow for.)
	ArchiveSpec spec = small_spec();
	for (uint32_t chunk_size : {1u, 2u, 3u, 7u, 64u, 4096u, 1u << 20}) {
		std::string file = write(spec, chunk_size);
		ar::FileHeader h = ar::FileHeader::parse(bytes_of(file));
		EXPECT_EQ(h.chunk_size, chunk_size);
		expect_same(spec, read(spec, file));
		expect_same(spec, read(spec, file, 5, 3));
		expect_same(spec, read(spec, file, 1, 1));
		RawArchive raw = raw_archive(file);
		for (const auto &c : raw.chunks)
			EXPECT_LE(c.length, chunk_size) << "chunk size " << chunk_size;
		if (chunk_size < 4096) {
			EXPECT_GT(raw.chunks.size(), raw.body.size() / chunk_size) << "chunk size " << chunk_size;
		}
	}
	ArchiveSpec large = large_spec();
	for (uint32_t chunk_size : {4096u, 100003u})
		expect_same(large, read(large, write(large, chunk_size), 65536, 65536));
}

TEST_P(ArchiveRoundTrip, TuplesKeepTheirFields) {
	ArchiveSpec spec = large_spec();
	ReadArchive got = read(spec, write(spec));
	ASSERT_EQ(got.tables.size(), spec.tables.size());

	auto customers = parse_tuples(got.tables[0].rows);
	ASSERT_EQ(customers.size(), 40u);
	for (size_t i = 0; i < customers.size(); i++)
		EXPECT_TRUE(customers[i] == customer_row(i)) << "row " << i;
	EXPECT_FALSE(customers[0][4].has_value()) << "NULL stays NULL";
	ASSERT_TRUE(customers[1][5].has_value()) << "a zero-length value is not NULL";
	EXPECT_EQ(*customers[1][5], "");
	EXPECT_EQ(customers[1][3]->size(), 1u);
	EXPECT_EQ(customers[1][0]->size(), 4u);
	EXPECT_EQ(customers[1][1]->size(), 8u);
	EXPECT_EQ(*customers[1][2], "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");

	EXPECT_TRUE(got.tables[1].rows.empty());
	auto markers = parse_tuples(got.tables[2].rows);
	ASSERT_EQ(markers.size(), 3u);
	EXPECT_TRUE(markers[0].empty());

	auto docs = parse_tuples(got.tables[4].rows);
	ASSERT_EQ(docs.size(), 4u);
	EXPECT_EQ(docs[0][1]->size(), 3500000u);
	EXPECT_EQ(*docs[0][1], random_bytes(3500000, 77));
	EXPECT_EQ(*docs[1][1], "\x01");
	EXPECT_EQ(*docs[2][1], compressible_bytes(2200000));
	EXPECT_FALSE(docs[3][1].has_value());
	EXPECT_FALSE(docs[3][2].has_value());
	EXPECT_EQ(parse_tuples(got.tables[5].rows).size(), 3000u);
}

TEST_P(ArchiveRoundTrip, ZeroTables) {
	ArchiveSpec spec;
	spec.tenant = "t";
	spec.metadata = "{}";
	std::string file = write(spec);
	auto r = reader(spec, file);
	EXPECT_EQ(r->tenant(), "t");
	EXPECT_EQ(r->metadata(), "{}");
	EXPECT_FALSE(r->next_table().has_value());
	EXPECT_EQ(r->total_rows(), 0u);
	EXPECT_TRUE(r->index().empty());
	EXPECT_FALSE(r->next_table().has_value()) << "the end stays the end";
	uint8_t b;
	EXPECT_EQ(r->read_rows(&b, 1), 0u);
}

TEST_P(ArchiveRoundTrip, EmptyTenantAndMetadata) {
	ArchiveSpec spec;
	spec.tables = {empty_table()};
	expect_same(spec, read(spec, write(spec)));
}

TEST_P(ArchiveRoundTrip, LargeMetadata) {
	ArchiveSpec spec;
	spec.tenant = std::string(1000, 'x');
	spec.metadata = compressible_bytes(3 * 1024 * 1024); // metadata is not limited to a data record
	spec.tables = {customers_table(3)};
	expect_same(spec, read(spec, write(spec)));
	expect_same(spec, read(spec, write(spec, 4096)));
}

TEST_P(ArchiveRoundTrip, OnlyEmptyTables) {
	ArchiveSpec spec;
	spec.tenant = "7";
	spec.tables = {empty_table(), empty_table(), empty_table()};
	spec.tables[1].batches.push_back(""); // an empty append adds nothing
	spec.tables[1].batch_rows.push_back(0);
	ReadArchive got = read(spec, write(spec));
	expect_same(spec, got);
	for (const auto &t : got.tables)
		EXPECT_EQ(t.row_count, 0u);
}

TEST_P(ArchiveRoundTrip, NextTableSkipsUnreadRows) {
	ArchiveSpec spec = large_spec();
	std::string file = write(spec);
	auto r = reader(spec, file, 4099);
	uint8_t buf[100];
	size_t index = 0;
	while (auto t = r->next_table()) {
		EXPECT_TRUE(*t == spec.tables[index].header) << "table " << index;
		// Read nothing of even tables and a little of odd ones (a partial data record).
		if (index % 2 == 1 && !spec.tables[index].all_rows().empty()) {
			size_t n = r->read_rows(buf, sizeof(buf));
			ASSERT_GT(n, 0u);
			EXPECT_EQ(std::string(reinterpret_cast<char *>(buf), n), spec.tables[index].all_rows().substr(0, n));
		}
		index++;
	}
	EXPECT_EQ(index, spec.tables.size());
	EXPECT_EQ(r->total_rows(), spec.total_rows());
	EXPECT_EQ(r->index().size(), spec.tables.size());
}

TEST_P(ArchiveRoundTrip, TableRowsAfterEachTable) {
	ArchiveSpec spec = small_spec();
	auto r = reader(spec, write(spec));
	uint8_t buf[4096];
	for (const auto &want : spec.tables) {
		ASSERT_TRUE(r->next_table().has_value());
		while (r->read_rows(buf, sizeof(buf)) > 0) {
		}
		EXPECT_EQ(r->table_rows(), want.row_count()) << want.header.name;
		EXPECT_EQ(r->read_rows(buf, sizeof(buf)), 0u) << "a finished table stays finished";
	}
	EXPECT_FALSE(r->next_table().has_value());
	EXPECT_EQ(r->total_rows(), spec.total_rows());
}

TEST_P(ArchiveRoundTrip, ReadRowsBeforeFirstTableReturnsNothing) {
	ArchiveSpec spec = small_spec();
	auto r = reader(spec, write(spec));
	uint8_t buf[16];
	EXPECT_EQ(r->read_rows(buf, sizeof(buf)), 0u);
	auto t = r->next_table();
	ASSERT_TRUE(t.has_value());
	EXPECT_EQ(t->name, "customers");
}

TEST_P(ArchiveRoundTrip, CompressionLevels) {
	ArchiveSpec spec = small_spec();
	for (int level : {1, 9, 19})
		expect_same(spec, read(spec, write(spec, 1u << 20, level)));
}

TEST_P(ArchiveRoundTrip, WriterHeaderDescribesTheArchive) {
	std::string file;
	StringSink sink(file);
	ar::WriterOptions o = v().writer(4096);
	o.tenant = "t";
	ar::ArchiveWriter w(sink, o);
	const ar::FileHeader &h = w.header();
	EXPECT_EQ(h.version, ar::kFormatVersion);
	EXPECT_EQ(h.compressed(), v().compress);
	EXPECT_EQ(h.encrypted(), v().encrypt);
	EXPECT_EQ(h.chunk_size, 4096u);
	EXPECT_EQ(h.backup_id, kBackupId);
	EXPECT_EQ(h.key_generation, v().encrypt ? kKeyGeneration : 0u);
	EXPECT_EQ(h.base_nonce, ar::FileHeader::parse(bytes_of(file)).base_nonce)
	    << "the header is written as soon as the writer exists";
	w.begin("");
	w.finish();
	EXPECT_EQ(file.substr(0, ar::kFileHeaderSize), h.serialize());
}

TEST_P(ArchiveRoundTrip, KeyForIsAskedForTheWrittenGeneration) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec);
	std::vector<uint32_t> asked;
	ar::ReaderOptions o = v().reader(spec.tenant);
	o.key_for = [&asked](uint32_t generation) {
		asked.push_back(generation);
		return test_key(1);
	};
	expect_same(spec, read_archive(file, o));
	if (v().encrypt) {
		EXPECT_EQ(asked, std::vector<uint32_t>{kKeyGeneration});
	} else {
		EXPECT_TRUE(asked.empty()) << "an archive without encryption needs no key";
	}
}

TEST_P(ArchiveRoundTrip, BackupIdZeroAcceptsAnyBackup) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec);
	expect_same(spec, read_archive(file, reader_options(spec.tenant, v().key(), 0)));
}

INSTANTIATE_TEST_SUITE_P(Archive, ArchiveRoundTrip, ::testing::ValuesIn(kVariants), variant_name);

TEST(ArchiveFormat, FileHeader) {
	std::string plain = write_archive(small_spec(), false);
	std::string packed = write_archive(small_spec(), true);
	std::string sealed = write_archive(small_spec(), writer_options(false, test_key(1), 4096));
	std::string both = write_archive(small_spec(), writer_options(true, test_key(1), 4096));
	auto field = [](const std::string &file, size_t at, size_t len) { return file.substr(at, len); };
	for (const std::string *f : {&plain, &packed, &sealed, &both}) {
		EXPECT_EQ(field(*f, 0, 10), std::string("TNTBKUP\n\x02\x00", 10));
		EXPECT_EQ(ar::get_le(bytes_of(*f) + 16, 8), kBackupId);
		EXPECT_EQ(field(*f, 40, 24), std::string(24, '\0')) << "reserved bytes";
		EXPECT_NE(field(*f, 28, 12), std::string(12, '\0')) << "a random base nonce";
	}
	EXPECT_EQ(field(plain, 10, 2), std::string("\x00\x00", 2));
	EXPECT_EQ(field(packed, 10, 2), std::string("\x01\x00", 2));
	EXPECT_EQ(field(sealed, 10, 2), std::string("\x02\x00", 2));
	EXPECT_EQ(field(both, 10, 2), std::string("\x03\x00", 2));
	EXPECT_EQ(ar::get_le(bytes_of(plain) + 12, 4), 1u << 20) << "chunk size";
	EXPECT_EQ(ar::get_le(bytes_of(sealed) + 12, 4), 4096u);
	EXPECT_EQ(ar::get_le(bytes_of(plain) + 24, 4), 0u) << "no key generation without a key";
	EXPECT_EQ(ar::get_le(bytes_of(sealed) + 24, 4), kKeyGeneration);
	// The first chunk of a compressed body starts with a zstd frame.
	EXPECT_EQ(field(packed, ar::kFileHeaderSize + cr::kChunkHeaderSize, 4), std::string("\x28\xb5\x2f\xfd", 4));
	EXPECT_LT(packed.size(), plain.size());

	ar::FileHeader h = ar::FileHeader::parse(bytes_of(both));
	EXPECT_TRUE(h.compressed());
	EXPECT_TRUE(h.encrypted());
	EXPECT_EQ(h.serialize(), both.substr(0, ar::kFileHeaderSize)) << "parse and serialize agree";
	EXPECT_EQ(h.serialize().size(), ar::kFileHeaderSize);
}

TEST(ArchiveFormat, Layout) {
	// Chunks, sections, records, trailer and footer of an uncompressed archive without a key,
	// parsed by hand.
	ArchiveSpec spec = large_spec();
	std::string file = write_archive(spec, false);
	RawArchive raw = raw_archive(file);
	ASSERT_FALSE(raw.chunks.empty());
	for (size_t k = 0; k + 1 < raw.chunks.size(); k++)
		EXPECT_EQ(raw.chunks[k].flags, 0) << "chunk " << k;
	EXPECT_EQ(raw.chunks.back().flags, cr::kChunkFinal);
	// Where each chunk's data starts in the body, and which chunk that is.
	std::map<size_t, size_t> chunk_at;
	for (size_t k = 0; k < raw.chunks.size(); k++)
		chunk_at[raw.chunks[k].body_offset] = k;

	auto recs = raw_records(raw.body);
	ASSERT_FALSE(recs.empty());
	EXPECT_EQ(recs.front().type, 'H');
	EXPECT_EQ(recs.front().offset, 0u);
	ASSERT_EQ(recs.back().type, 'Z');

	// The trailer starts a chunk of its own, and the footer points at it.
	ASSERT_TRUE(chunk_at.count(recs.back().offset)) << "the trailer starts a chunk";
	size_t trailer_chunk = chunk_at[recs.back().offset];
	EXPECT_EQ(raw.trailer_chunk, trailer_chunk);
	EXPECT_EQ(raw.trailer_offset, raw.chunks[trailer_chunk].offset);

	std::string z = raw.body.substr(recs.back().offset + 5, recs.back().length);
	ar::PayloadReader zr(z, "test");
	EXPECT_EQ(zr.u64(), spec.tables.size());
	EXPECT_EQ(zr.u64(), spec.total_rows());

	// Per table: T at the start of a chunk, then D records no larger than kMaxDataRecord, then E
	// with the row count; the trailer's index entry points at the T record's chunk.
	size_t i = 1;
	for (const auto &t : spec.tables) {
		ASSERT_LT(i, recs.size());
		EXPECT_EQ(recs[i].type, 'T');
		EXPECT_EQ(raw.body.substr(recs[i].offset + 5, recs[i].length), table_payload(t.header));
		ASSERT_TRUE(chunk_at.count(recs[i].offset)) << t.header.name << " starts a chunk";
		size_t chunk = chunk_at[recs[i].offset];
		EXPECT_EQ(zr.string(), t.header.schema);
		EXPECT_EQ(zr.string(), t.header.name);
		EXPECT_EQ(zr.u64(), chunk) << t.header.name;
		EXPECT_EQ(zr.u64(), raw.chunks[chunk].offset) << t.header.name;
		EXPECT_EQ(zr.u64(), t.row_count()) << t.header.name;
		i++;
		std::string data;
		size_t data_records = 0;
		while (i < recs.size() && recs[i].type == 'D') {
			EXPECT_LE(recs[i].length, ar::kMaxDataRecord);
			EXPECT_GT(recs[i].length, 0u);
			data += raw.body.substr(recs[i].offset + 5, recs[i].length);
			data_records++;
			i++;
		}
		EXPECT_TRUE(data == t.all_rows()) << t.header.name;
		if (t.header.name == "documents") {
			EXPECT_GE(data_records, 6u) << "5.7 MB of rows take at least six 1 MiB data records";
		}
		ASSERT_LT(i, recs.size());
		EXPECT_EQ(recs[i].type, 'E');
		ASSERT_EQ(recs[i].length, 8u);
		EXPECT_EQ(ar::get_le(bytes_of(raw.body) + recs[i].offset + 5, 8), t.row_count());
		i++;
	}
	EXPECT_EQ(i, recs.size() - 1);
	EXPECT_NO_THROW(zr.expect_end());

	// Chunks are full except where a section ends (before a T or Z record) and the final one.
	for (size_t k = 0; k + 1 < raw.chunks.size(); k++)
		if (raw.chunks[k].length != (1u << 20)) {
			size_t next = raw.chunks[k + 1].body_offset;
			EXPECT_TRUE(raw.body[next] == 'T' || raw.body[next] == 'Z') << "short chunk " << k;
		}
}

TEST(ArchiveFormat, CompressedSectionsAreFramesOfTheirOwn) {
	ArchiveSpec spec = large_spec();
	std::string file = write_archive(spec, writer_options(true, std::nullopt, 65536));
	RawArchive raw = raw_archive(file);
	ar::ReaderOptions o = reader_options(spec.tenant);
	MemoryStorage storage;
	storage.objects["a"] = file;
	auto index = ar::read_archive_index(storage, "a", o);
	ASSERT_EQ(index.size(), spec.tables.size());
	// Section starts in body offsets: every table's, then the trailer's.
	std::vector<size_t> starts;
	for (const auto &e : index) {
		ASSERT_LT(e.chunk, raw.chunks.size());
		EXPECT_EQ(raw.chunks[e.chunk].offset, e.offset);
		starts.push_back(raw.chunks[e.chunk].body_offset);
	}
	starts.push_back(raw.chunks[raw.trailer_chunk].body_offset);
	for (size_t k = 0; k < index.size(); k++) {
		std::string section = raw.body.substr(starts[k], starts[k + 1] - starts[k]);
		EXPECT_EQ(section.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4)) << "a zstd frame starts table " << k;
		// The section decompresses on its own into T, its rows and E.
		tb::ZstdDecompressSource z(memory_source(section));
		std::string records = read_all(z);
		auto recs = raw_records(records);
		ASSERT_GE(recs.size(), 2u);
		EXPECT_EQ(recs.front().type, 'T');
		EXPECT_EQ(recs.back().type, 'E');
		EXPECT_EQ(ar::get_le(bytes_of(records) + recs.back().offset + 5, 8), spec.tables[k].row_count());
	}
	std::string trailer = raw.body.substr(starts.back());
	tb::ZstdDecompressSource z(memory_source(trailer));
	auto recs = raw_records(read_all(z));
	ASSERT_EQ(recs.size(), 1u);
	EXPECT_EQ(recs[0].type, 'Z');
}

TEST(ArchiveFormat, EncryptionKeepsTheChunkLayout) {
	// AES-GCM does not change lengths: with and without a key, the chunks have the same sizes.
	ArchiveSpec spec = small_spec();
	for (bool compress : {false, true}) {
		RawArchive plain = raw_archive(write_archive(spec, writer_options(compress, std::nullopt, 1000)));
		RawArchive sealed = raw_archive(write_archive(spec, writer_options(compress, test_key(2), 1000)));
		ASSERT_EQ(plain.chunks.size(), sealed.chunks.size());
		for (size_t k = 0; k < plain.chunks.size(); k++) {
			EXPECT_EQ(plain.chunks[k].length, sealed.chunks[k].length) << "chunk " << k;
			EXPECT_EQ(plain.chunks[k].flags, sealed.chunks[k].flags) << "chunk " << k;
		}
		EXPECT_EQ(plain.trailer_chunk, sealed.trailer_chunk);
		EXPECT_EQ(plain.trailer_offset, sealed.trailer_offset);
		if (!compress) {
			EXPECT_NE(plain.body, sealed.body);
		}
	}
}

TEST(ArchiveFormat, BigAppendIsSplitIntoFullRecords) {
	std::string rows = tuple({random_bytes(3 * ar::kMaxDataRecord + 10, 5)});
	std::string file;
	StringSink sink(file);
	ar::WriterOptions o = writer_options(false);
	o.tenant = "t";
	ar::ArchiveWriter w(sink, o);
	w.begin("");
	w.begin_table(table_header("s", "n", "c", {{"c", "bytea"}}));
	w.append_rows(bytes_of(rows), rows.size(), 1);
	w.end_table();
	w.finish();
	auto recs = raw_records(raw_archive(file).body);
	ASSERT_EQ(recs.size(), 8u); // H T D D D D E Z
	for (int k = 2; k < 5; k++)
		EXPECT_EQ(recs[k].length, ar::kMaxDataRecord);
	EXPECT_EQ(recs[5].length, rows.size() - 3 * ar::kMaxDataRecord);
}

TEST(ArchiveWriter, RowCountsAddUpAcrossAppends) {
	std::string file;
	StringSink sink(file);
	ar::WriterOptions o = writer_options(true);
	o.tenant = "t";
	ar::ArchiveWriter w(sink, o);
	w.begin("m");
	w.begin_table(table_header("s", "a", "c", {{"c", "integer"}}));
	std::string one = tuple({be32(1)}), two = tuple({be32(2)}) + tuple({Field()});
	w.append_rows(bytes_of(one), one.size(), 1);
	w.append_rows(bytes_of(two), two.size(), 2);
	w.end_table();
	w.begin_table(table_header("s", "b", "c", {{"c", "integer"}}));
	w.append_rows(bytes_of(one), one.size(), 1);
	w.end_table();
	EXPECT_EQ(sink.finished(), 0);
	w.finish();
	EXPECT_EQ(sink.finished(), 1);
	ReadArchive got = read_archive(file, reader_options("t"));
	ASSERT_EQ(got.tables.size(), 2u);
	EXPECT_EQ(got.tables[0].row_count, 3u);
	EXPECT_EQ(got.tables[0].rows, one + two);
	EXPECT_EQ(got.tables[1].row_count, 1u);
	EXPECT_EQ(got.total_rows, 4u);
	ASSERT_EQ(got.index.size(), 2u);
	EXPECT_EQ(got.index[0].rows, 3u);
	EXPECT_EQ(got.index[1].rows, 1u);
	EXPECT_GT(got.index[1].chunk, got.index[0].chunk);
	EXPECT_GT(got.index[1].offset, got.index[0].offset);
}

TEST(ArchiveWriter, Misuse) {
	using tb::ErrorKind;
	std::string file;
	StringSink sink(file);
	std::string row = tuple({be32(1)});
	auto table = table_header("s", "t", "c", {{"c", "integer"}});
	ar::WriterOptions o = writer_options(false);
	o.tenant = "t";
	{
		ar::ArchiveWriter w(sink, o);
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin_table(table); })) << "before begin";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.append_rows(bytes_of(row), row.size(), 1); }));
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.end_table(); }));
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.finish(); })) << "finish before begin";
		w.begin("");
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin(""); })) << "begin twice";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.append_rows(bytes_of(row), row.size(), 1); }))
		    << "append_rows outside a table";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.end_table(); })) << "end_table outside a table";
		w.begin_table(table);
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin_table(table); })) << "nested table";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.finish(); })) << "finish inside a table";
		w.append_rows(bytes_of(row), row.size(), 1);
		w.end_table();
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.append_rows(bytes_of(row), row.size(), 1); }))
		    << "append_rows after end_table";
		w.finish();
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin_table(table); })) << "after finish";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.finish(); })) << "finish twice";
	}
	EXPECT_EQ(sink.finished(), 1);
	// The misuse left no trace: the archive is the one that was meant.
	ReadArchive got = read_archive(file, reader_options("t"));
	ASSERT_EQ(got.tables.size(), 1u);
	EXPECT_EQ(got.tables[0].rows, row);
	EXPECT_EQ(got.total_rows, 1u);
}

TEST(ArchiveWriter, KeyAndKeyGenerationGoTogether) {
	std::string file;
	StringSink sink(file);
	ar::WriterOptions key_only = writer_options(false, test_key(1));
	key_only.key_generation = 0;
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Internal, [&] { ar::ArchiveWriter w(sink, key_only); }));
	ar::WriterOptions generation_only = writer_options(false);
	generation_only.key_generation = 5;
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Internal, [&] { ar::ArchiveWriter w(sink, generation_only); }));
}

TEST(ArchiveWriter, ChunkSizeOutOfRangeIsRejected) {
	for (uint32_t chunk_size : {0u, cr::kMaxChunkSize + 1, 0xffffffffu}) {
		std::string file;
		StringSink sink(file);
		ar::WriterOptions o = writer_options(true, std::nullopt, chunk_size);
		EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [&] { ar::ArchiveWriter w(sink, o); }))
		    << "chunk size " << chunk_size;
	}
	std::string file;
	StringSink sink(file);
	EXPECT_NO_THROW(ar::ArchiveWriter(sink, writer_options(true, std::nullopt, cr::kMaxChunkSize)));
}

TEST(ArchiveWriter, OversizedMetadataIsRejected) {
	std::string file;
	StringSink sink(file);
	ar::ArchiveWriter w(sink, writer_options(false));
	std::string huge(ar::kMaxMetaRecord, 'm');
	EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [&] { w.begin(huge); }));
}

TEST(ArchivePipeline, TableRowsThroughFilterAndCopyFrame) {
	// What a restore does: the rows of each table, with dropped columns filtered out, framed as a
	// binary COPY stream.
	ArchiveSpec spec = large_spec();
	for (const Variant &variant : kVariants) {
		std::string file = write_archive(spec, variant.writer());
		ar::ArchiveReader r(memory_source(file, 5000), variant.reader(spec.tenant));
		for (const auto &want : spec.tables) {
			auto t = r.next_table();
			ASSERT_TRUE(t.has_value());
			std::vector<bool> keep;
			for (size_t c = 0; c < t->columns.size(); c++)
				keep.push_back(c % 3 != 1); // drop every third column, starting with the second
			ar::TableRows rows(r);
			ar::TupleFieldFilter filtered(rows, keep);
			ar::CopyBinaryFrame frame(filtered);
			std::string got = read_all(frame, 7919);

			std::string tuples;
			for (const auto &row : parse_tuples(want.all_rows())) {
				std::vector<Field> kept;
				for (size_t c = 0; c < row.size(); c++)
					if (keep[c])
						kept.push_back(row[c]);
				tuples += tuple(kept);
			}
			std::string expected = std::string("PGCOPY\n\377\r\n\0", 11) + std::string(8, '\0') + tuples + "\xff\xff";
			EXPECT_TRUE(got == expected) << want.header.name << ", " << variant.compress << variant.encrypt;
			EXPECT_EQ(r.table_rows(), want.row_count());
		}
		EXPECT_FALSE(r.next_table().has_value());
		EXPECT_EQ(r.total_rows(), spec.total_rows());
	}
}

TEST(ArchivePipeline, OneTableThroughTheIndexIntoCopyFrame) {
	// A restore of one table: through the index straight to its section.
	ArchiveSpec spec = large_spec();
	MemoryStorage storage;
	store_archive(storage, "b/1.tbk", spec, writer_options(true, test_key(4), 65536));
	ar::ReaderOptions o = reader_options(spec.tenant, test_key(4));
	auto index = ar::read_archive_index(storage, "b/1.tbk", o);
	ASSERT_EQ(index.size(), spec.tables.size());
	auto r = ar::open_archive_table(storage, "b/1.tbk", o, index[5]);
	auto t = r->next_table();
	ASSERT_TRUE(t.has_value());
	EXPECT_TRUE(*t == spec.tables[5].header);
	ar::TableRows rows(*r);
	ar::TupleFieldFilter filtered(rows, std::vector<bool>(t->columns.size(), true));
	ar::CopyBinaryFrame frame(filtered);
	std::string expected =
	    std::string("PGCOPY\n\377\r\n\0", 11) + std::string(8, '\0') + spec.tables[5].all_rows() + "\xff\xff";
	EXPECT_TRUE(read_all(frame, 4096) == expected);
	EXPECT_EQ(r->table_rows(), 3000u);
	EXPECT_FALSE(r->next_table().has_value());
}

TEST(ArchivePipeline, FieldCountMismatchIsCorrupt) {
	// The table header promises two columns, the rows carry one field.
	ArchiveSpec spec;
	TableSpec t;
	t.header = table_header("s", "t", "c", {{"a", "integer"}, {"b", "text"}});
	t.add_batch({{be32(1)}});
	spec.tables = {t};
	ar::ArchiveReader r(memory_source(write_archive(spec, true)), reader_options(spec.tenant));
	auto h = r.next_table();
	ASSERT_TRUE(h.has_value());
	ar::TableRows rows(r);
	ar::TupleFieldFilter filtered(rows, std::vector<bool>(h->columns.size(), true));
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { read_all(filtered); }));
}
