// The trailer's table index: read_archive_index and open_archive_table read one table of a stored
// archive without reading (or needing) the others.
#include "archive_support.hpp"

#include "core/storage/local/local_storage.hpp"

#include <filesystem>

using namespace tbtest;
using tb::ErrorKind;

namespace {

struct Variant {
	bool compress;
	bool encrypt;
	std::optional<cr::Key> key() const { return encrypt ? std::optional<cr::Key>(test_key(9)) : std::nullopt; }
};

const Variant kVariants[] = {{false, false}, {true, false}, {false, true}, {true, true}};

std::string variant_name(const ::testing::TestParamInfo<Variant> &info) {
	return std::string(info.param.compress ? "Compressed" : "Uncompressed") +
	       (info.param.encrypt ? "Encrypted" : "Plain");
}

class ArchiveIndex : public ::testing::TestWithParam<Variant> {
protected:
	const Variant &v() const { return GetParam(); }
	ar::WriterOptions writer(uint32_t chunk_size = 65536) const {
		return writer_options(v().compress, v().key(), chunk_size);
	}
	ar::ReaderOptions reader(const std::string &tenant, uint64_t backup_id = kBackupId) const {
		return reader_options(tenant, v().key(), backup_id);
	}
	// Stores spec as "a.tbk" and returns the stored bytes.
	const std::string &store(const ArchiveSpec &spec, uint32_t chunk_size = 65536) {
		store_archive(storage_, "a.tbk", spec, writer(chunk_size));
		return storage_.objects.at("a.tbk");
	}
	MemoryStorage storage_;
};

void expect_same_table(const ReadTable &want, const ReadTable &got, const std::string &what) {
	EXPECT_TRUE(got.header == want.header) << what;
	EXPECT_EQ(got.row_count, want.row_count) << what;
	EXPECT_EQ(got.rows.size(), want.rows.size()) << what;
	EXPECT_TRUE(got.rows == want.rows) << what;
}

} // namespace

TEST_P(ArchiveIndex, OneEntryPerTable) {
	ArchiveSpec spec = large_spec();
	const std::string &file = store(spec);
	ar::FileHeader header;
	auto index = ar::read_archive_index(storage_, "a.tbk", reader(spec.tenant), &header);
	EXPECT_EQ(header.serialize(), file.substr(0, ar::kFileHeaderSize));
	ASSERT_EQ(index.size(), spec.tables.size());
	RawArchive raw = raw_archive(file);
	for (size_t i = 0; i < index.size(); i++) {
		EXPECT_EQ(index[i].schema, spec.tables[i].header.schema) << i;
		EXPECT_EQ(index[i].name, spec.tables[i].header.name) << i;
		EXPECT_EQ(index[i].rows, spec.tables[i].row_count()) << i;
		ASSERT_LT(index[i].chunk, raw.chunks.size()) << i;
		EXPECT_EQ(index[i].offset, raw.chunks[index[i].chunk].offset) << "entry " << i << " points at its chunk";
		if (i > 0) {
			EXPECT_GT(index[i].chunk, index[i - 1].chunk);
			EXPECT_GT(index[i].offset, index[i - 1].offset);
		}
	}
	EXPECT_GT(index[0].chunk, 0u) << "the header record has a chunk of its own";
	EXPECT_LT(index.back().chunk, raw.trailer_chunk);

	// The full read checks the same index.
	ReadArchive full = read_archive(file, reader(spec.tenant));
	ASSERT_EQ(full.index.size(), index.size());
	for (size_t i = 0; i < index.size(); i++) {
		EXPECT_EQ(full.index[i].chunk, index[i].chunk);
		EXPECT_EQ(full.index[i].offset, index[i].offset);
		EXPECT_EQ(full.index[i].rows, index[i].rows);
	}
}

TEST_P(ArchiveIndex, EachTableThroughTheIndexEqualsTheFullRead) {
	for (uint32_t chunk_size : {7u, 4096u, 1u << 20}) {
		ArchiveSpec spec = chunk_size < 4096 ? small_spec() : large_spec();
		const std::string &file = store(spec, chunk_size);
		ReadArchive full = read_archive(file, reader(spec.tenant));
		expect_same(spec, full);
		auto index = ar::read_archive_index(storage_, "a.tbk", reader(spec.tenant));
		ASSERT_EQ(index.size(), full.tables.size());
		// In reverse order, and each twice: entries are independent.
		for (size_t k = 0; k < 2 * index.size(); k++) {
			size_t i = index.size() - 1 - k % index.size();
			std::string what = spec.tables[i].header.name + ", chunk size " + std::to_string(chunk_size);
			expect_same_table(full.tables[i], read_table_via_index(storage_, "a.tbk", reader(spec.tenant), index[i]),
			                  what);
			expect_same_table(full.tables[i],
			                  read_table_via_index(storage_, "a.tbk", reader(spec.tenant), index[i], 1 + i), what);
		}
	}
}

TEST_P(ArchiveIndex, ZeroTables) {
	ArchiveSpec spec;
	spec.tenant = "t";
	store(spec);
	EXPECT_TRUE(ar::read_archive_index(storage_, "a.tbk", reader("t")).empty());
}

TEST_P(ArchiveIndex, OneTableDoesNotNeedTheOthers) {
	ArchiveSpec spec = large_spec();
	std::string file = store(spec);
	auto index = ar::read_archive_index(storage_, "a.tbk", reader(spec.tenant));
	ASSERT_EQ(index.size(), 6u);
	ReadArchive full = read_archive(file, reader(spec.tenant));

	// Reading the small first table reads a small part of the archive.
	storage_.bytes_served = 0;
	read_table_via_index(storage_, "a.tbk", reader(spec.tenant), index[0]);
	EXPECT_LT(storage_.bytes_served, file.size() / 20) << "of " << file.size();

	// Damage the middle of the large "documents" table: the others still read through the index,
	// while a full read fails.
	ASSERT_EQ(index[4].name, "documents");
	size_t middle = (index[4].offset + index[5].offset) / 2;
	std::string damaged = file;
	damaged[middle] ^= 0x10;
	storage_.objects["a.tbk"] = damaged;
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(damaged, reader(spec.tenant)); }));
	auto again = ar::read_archive_index(storage_, "a.tbk", reader(spec.tenant));
	ASSERT_EQ(again.size(), index.size());
	for (size_t i : {0, 1, 2, 3, 5})
		expect_same_table(full.tables[i], read_table_via_index(storage_, "a.tbk", reader(spec.tenant), again[i]),
		                  spec.tables[i].header.name);
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt,
	                        [&] { read_table_via_index(storage_, "a.tbk", reader(spec.tenant), again[4]); }));

	// Damage to the first table's section does not reach the last table either.
	damaged = file;
	damaged[index[0].offset + 40] ^= 0x01;
	storage_.objects["a.tbk"] = damaged;
	expect_same_table(full.tables[5], read_table_via_index(storage_, "a.tbk", reader(spec.tenant), index[5]),
	                  "customers after damage to the first table");
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt,
	                        [&] { read_table_via_index(storage_, "a.tbk", reader(spec.tenant), index[0]); }));
}

TEST_P(ArchiveIndex, ForeignReadersAreRejected) {
	ArchiveSpec spec = small_spec();
	store(spec);
	auto index = ar::read_archive_index(storage_, "a.tbk", reader(spec.tenant));
	ASSERT_FALSE(index.empty());
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { ar::read_archive_index(storage_, "a.tbk", reader("other")); }));
	EXPECT_TRUE(
	    throws_kind(ErrorKind::Corrupt, [&] { ar::read_archive_index(storage_, "a.tbk", reader(spec.tenant, 8)); }));
	EXPECT_TRUE(
	    throws_kind(ErrorKind::Corrupt, [&] { read_table_via_index(storage_, "a.tbk", reader("other"), index[0]); }));
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt,
	                        [&] { read_table_via_index(storage_, "a.tbk", reader(spec.tenant, 8), index[0]); }));
	if (v().encrypt) {
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] {
			ar::read_archive_index(storage_, "a.tbk", reader_options(spec.tenant, test_key(10)));
		}));
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput,
		                        [&] { ar::read_archive_index(storage_, "a.tbk", reader_options(spec.tenant)); }));
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] {
			read_table_via_index(storage_, "a.tbk", reader_options(spec.tenant, test_key(10)), index[0]);
		}));
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] {
			read_table_via_index(storage_, "a.tbk", reader_options(spec.tenant), index[0]);
		}));
	}
}

TEST_P(ArchiveIndex, WrongEntriesAreCorrupt) {
	ArchiveSpec spec = small_spec();
	store(spec);
	ar::ReaderOptions o = reader(spec.tenant);
	auto index = ar::read_archive_index(storage_, "a.tbk", o);
	ASSERT_GE(index.size(), 2u);
	auto with = [&](auto change) {
		ar::TableIndexEntry e = index[0];
		change(e);
		return e;
	};
	const ar::TableIndexEntry bad[] = {
	    with([](ar::TableIndexEntry &e) { e.name = "other"; }),
	    with([](ar::TableIndexEntry &e) { e.schema = "other"; }),
	    with([](ar::TableIndexEntry &e) { e.rows++; }),
	    with([](ar::TableIndexEntry &e) { e.chunk++; }),
	    with([&](ar::TableIndexEntry &e) { e.chunk = index[1].chunk; }), // the offset of one, the chunk of another
	    with([](ar::TableIndexEntry &e) { e.offset++; }),
	    with([](ar::TableIndexEntry &e) { e.offset = 0; }),
	    with([&](ar::TableIndexEntry &e) { e.offset = storage_.size("a.tbk") - 10; }),
	    with([&](ar::TableIndexEntry &e) { e.offset = storage_.size("a.tbk") + 1000; }),
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_table_via_index(storage_, "a.tbk", o, bad[k]); }))
		    << "case " << k;
	// Another table's entry, under its own name, is fine.
	EXPECT_EQ(read_table_via_index(storage_, "a.tbk", o, index[1]).header.name, index[1].name);
}

TEST_P(ArchiveIndex, DamagedOrTruncatedFileIsCorrupt) {
	ArchiveSpec spec = small_spec();
	std::string file = store(spec, 4096);
	ar::ReaderOptions o = reader(spec.tenant);
	RawArchive raw = raw_archive(file);
	auto index_of = [&](const std::string &bytes) {
		storage_.objects["b.tbk"] = bytes;
		return ar::read_archive_index(storage_, "b.tbk", o);
	};
	ASSERT_EQ(index_of(file).size(), spec.tables.size());
	// Every cut: the footer is gone or points at the wrong place.
	for (size_t len = 0; len < file.size(); len += (len < 200 || len + 200 > file.size()) ? 1 : 97)
		ASSERT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { index_of(file.substr(0, len)); })) << "cut at " << len;
	// Every bit of the footer, the header and the trailer's chunks.
	std::vector<size_t> positions;
	for (size_t i = 0; i < ar::kFileHeaderSize; i++)
		positions.push_back(i);
	for (size_t i = raw.trailer_offset; i < file.size(); i++)
		positions.push_back(i);
	for (size_t pos : positions)
		for (int bit = 0; bit < 8; bit++) {
			std::string bad = file;
			bad[pos] ^= static_cast<char>(1 << bit);
			ASSERT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { index_of(bad); }))
			    << "bit " << bit << " of byte " << pos << " (trailer at " << raw.trailer_offset << ")";
		}
	// A footer that points at a table's section instead of the trailer.
	auto index = index_of(file);
	std::string misdirected = file.substr(0, raw.footer_offset) + footer(index[0].offset, index[0].chunk);
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { index_of(misdirected); }));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { ar::read_archive_index(storage_, "missing.tbk", o); }));
}

INSTANTIATE_TEST_SUITE_P(Archive, ArchiveIndex, ::testing::ValuesIn(kVariants), variant_name);

class ArchiveIndexLocal : public ::testing::Test {
protected:
	void SetUp() override {
		char tmpl[] = "/tmp/tb_unit_index_XXXXXX";
		ASSERT_NE(::mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override {
		std::error_code ec;
		std::filesystem::remove_all(dir_, ec);
	}
	std::string dir_;
};

TEST_F(ArchiveIndexLocal, ReadsOneTableFromALocalRepository) {
	// The same through LocalStorage: open_read at an offset and size() of a real file.
	tb::LocalStorage storage(dir_);
	ArchiveSpec spec = large_spec();
	ar::WriterOptions wo = writer_options(true, test_key(5), 65536);
	store_archive(storage, "42/1-acme.tbk", spec, wo);
	ar::ReaderOptions ro = reader_options(spec.tenant, test_key(5));
	auto index = ar::read_archive_index(storage, "42/1-acme.tbk", ro);
	ASSERT_EQ(index.size(), spec.tables.size());
	for (size_t i = 0; i < index.size(); i++) {
		ReadTable t = read_table_via_index(storage, "42/1-acme.tbk", ro, index[i]);
		EXPECT_TRUE(t.header == spec.tables[i].header);
		EXPECT_TRUE(t.rows == spec.tables[i].all_rows()) << spec.tables[i].header.name;
		EXPECT_EQ(t.row_count, spec.tables[i].row_count());
	}
}
