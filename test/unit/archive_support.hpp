// Builders and readers of whole archives in memory, shared by the archive tests.
#pragma once
#include "core/archive/archive_reader.hpp"
#include "core/archive/archive_writer.hpp"
#include "core/archive/bytes.hpp"
#include "core/archive/format.hpp"
#include "core/crypto/chunk_cipher.hpp"
#include "core/stream/zstd_stream.hpp"

#include "test_support.hpp"

namespace tbtest {

namespace ar = tb::archive;
namespace cr = tb::crypto;

struct TableSpec {
	ar::TableHeader header;
	// Each batch is handed to append_rows in one call, with its row count.
	std::vector<std::string> batches;
	std::vector<uint64_t> batch_rows;

	void add_batch(const std::vector<std::vector<Field>> &rows) {
		std::string data;
		for (const auto &r : rows)
			data += tuple(r);
		batches.push_back(data);
		batch_rows.push_back(rows.size());
	}
	std::string all_rows() const {
		std::string s;
		for (const auto &b : batches)
			s += b;
		return s;
	}
	uint64_t row_count() const {
		uint64_t n = 0;
		for (uint64_t r : batch_rows)
			n += r;
		return n;
	}
};

struct ArchiveSpec {
	std::string tenant;
	std::string metadata;
	std::vector<TableSpec> tables;
	uint64_t total_rows() const {
		uint64_t n = 0;
		for (const auto &t : tables)
			n += t.row_count();
		return n;
	}
};

// ---- Options ----

constexpr uint64_t kBackupId = 7;
constexpr uint32_t kKeyGeneration = 3;

// A data key derived from a seed (any two seeds give different keys).
inline cr::Key test_key(uint8_t seed = 1) {
	cr::Key k;
	for (size_t i = 0; i < k.size(); i++)
		k[i] = static_cast<uint8_t>(seed * 73 + i * 29 + 11);
	return k;
}

// Writer options of a test archive of backup kBackupId; the tenant is the spec's (see write_archive).
inline ar::WriterOptions writer_options(bool compress, std::optional<cr::Key> key = std::nullopt,
                                        uint32_t chunk_size = 1u << 20, int level = 3) {
	ar::WriterOptions o;
	o.backup_id = kBackupId;
	o.compression_level = compress ? level : 0;
	o.key = key;
	o.key_generation = key ? kKeyGeneration : 0;
	o.chunk_size = chunk_size;
	return o;
}

// Reader options for the archives of tenant; key_for hands out key for any generation, so that
// a damaged key generation is caught by the authentication of the chunks.
inline ar::ReaderOptions reader_options(const std::string &tenant, std::optional<cr::Key> key = std::nullopt,
                                        uint64_t backup_id = kBackupId) {
	ar::ReaderOptions o;
	o.backup_id = backup_id;
	o.tenant = tenant;
	if (key)
		o.key_for = [k = *key](uint32_t) { return k; };
	return o;
}

// ---- Writing and reading whole archives ----

// Feeds spec to a writer on out; options.tenant is set to spec.tenant.
inline void write_archive_to(tb::Sink &out, const ArchiveSpec &spec, ar::WriterOptions options) {
	options.tenant = spec.tenant;
	ar::ArchiveWriter w(out, std::move(options));
	w.begin(spec.metadata);
	for (const auto &t : spec.tables) {
		w.begin_table(t.header);
		for (size_t i = 0; i < t.batches.size(); i++)
			w.append_rows(bytes_of(t.batches[i]), t.batches[i].size(), t.batch_rows[i]);
		w.end_table();
	}
	w.finish();
}

inline std::string write_archive(const ArchiveSpec &spec, const ar::WriterOptions &options) {
	std::string file;
	StringSink sink(file);
	write_archive_to(sink, spec, options);
	EXPECT_EQ(sink.finished(), 1) << "ArchiveWriter::finish must flush the whole chain";
	return file;
}

inline std::string write_archive(const ArchiveSpec &spec, bool compress, int level = 3) {
	return write_archive(spec, writer_options(compress, std::nullopt, 1u << 20, level));
}

// Writes spec into storage under name.
inline void store_archive(tb::Storage &storage, const std::string &name, const ArchiveSpec &spec,
                          const ar::WriterOptions &options) {
	auto out = storage.open_write(name, "test");
	write_archive_to(*out, spec, options);
	out->publish();
}

struct ReadTable {
	ar::TableHeader header;
	std::string rows;
	uint64_t row_count = 0;
};

struct ReadArchive {
	std::string tenant;
	std::string metadata;
	std::vector<ReadTable> tables;
	uint64_t total_rows = 0;
	std::vector<ar::TableIndexEntry> index;
};

// Reads the rows of the reader's current table to their end.
inline ReadTable read_table(ar::ArchiveReader &r, const ar::TableHeader &header, size_t read_size = 65536) {
	ReadTable rt;
	rt.header = header;
	std::vector<uint8_t> buf(read_size);
	for (size_t n; (n = r.read_rows(buf.data(), buf.size())) > 0;) {
		EXPECT_LE(n, read_size);
		rt.rows.append(reinterpret_cast<const char *>(buf.data()), n);
	}
	rt.row_count = r.table_rows();
	return rt;
}

// Reads a whole archive (or its first `length` bytes): every table, every byte of rows, then the
// end of the archive.
inline ReadArchive read_archive(const std::string &file, const ar::ReaderOptions &options, size_t source_chunk = 65536,
                                size_t read_size = 65536, size_t length = SIZE_MAX) {
	ReadArchive out;
	ar::ArchiveReader r(std::make_unique<PrefixSource>(file, length, source_chunk), options);
	out.tenant = r.tenant();
	out.metadata = r.metadata();
	while (auto t = r.next_table())
		out.tables.push_back(read_table(r, *t, read_size));
	out.total_rows = r.total_rows();
	out.index = r.index();
	return out;
}

// Reads one table of a stored archive through its index entry.
inline ReadTable read_table_via_index(tb::Storage &storage, const std::string &name, const ar::ReaderOptions &options,
                                      const ar::TableIndexEntry &entry, size_t read_size = 65536) {
	auto r = ar::open_archive_table(storage, name, options, entry);
	auto t = r->next_table();
	if (!t) {
		ADD_FAILURE() << "no table at the index entry of " << entry.name;
		return {};
	}
	ReadTable rt = read_table(*r, *t, read_size);
	EXPECT_FALSE(r->next_table().has_value()) << "one table's section holds one table";
	return rt;
}

// Checks that what was read is what spec describes.
inline void expect_same(const ArchiveSpec &spec, const ReadArchive &got) {
	EXPECT_EQ(got.tenant, spec.tenant);
	EXPECT_EQ(got.metadata, spec.metadata);
	ASSERT_EQ(got.tables.size(), spec.tables.size());
	for (size_t i = 0; i < spec.tables.size(); i++) {
		const auto &want = spec.tables[i];
		const auto &have = got.tables[i];
		EXPECT_TRUE(have.header == want.header) << "table " << i << " header";
		EXPECT_EQ(have.header.schema, want.header.schema);
		EXPECT_EQ(have.header.name, want.header.name);
		EXPECT_EQ(have.header.tenant_column, want.header.tenant_column);
		EXPECT_EQ(have.header.columns.size(), want.header.columns.size());
		EXPECT_EQ(have.row_count, want.row_count()) << "table " << i;
		EXPECT_EQ(have.rows.size(), want.all_rows().size()) << "table " << i;
		EXPECT_TRUE(have.rows == want.all_rows()) << "table " << i << " rows differ";
	}
	EXPECT_EQ(got.total_rows, spec.total_rows());
	ASSERT_EQ(got.index.size(), spec.tables.size()) << "the trailer indexes every table";
	for (size_t i = 0; i < spec.tables.size(); i++) {
		EXPECT_EQ(got.index[i].schema, spec.tables[i].header.schema);
		EXPECT_EQ(got.index[i].name, spec.tables[i].header.name);
		EXPECT_EQ(got.index[i].rows, spec.tables[i].row_count());
	}
}

// ---- The layout of an archive, parsed independently of ArchiveReader ----

struct RawChunk {
	size_t offset;      // of the chunk header in the file
	size_t body_offset; // of its data in the concatenated body
	uint8_t flags;
	uint32_t length; // of its data
	size_t size() const { return cr::kChunkHeaderSize + length + cr::kTagSize; }
	size_t end() const { return offset + size(); }
};

struct RawArchive {
	std::vector<RawChunk> chunks;
	std::string body; // the data of all chunks, concatenated (plaintext when not encrypted)
	uint64_t trailer_offset = 0, trailer_chunk = 0;
	size_t footer_offset = 0;
};

inline RawArchive raw_archive(const std::string &file) {
	RawArchive a;
	size_t pos = ar::kFileHeaderSize;
	while (true) {
		if (file.size() < pos + cr::kChunkHeaderSize) {
			ADD_FAILURE() << "chunk header cut at " << pos;
			return a;
		}
		RawChunk c{pos, a.body.size(), uint8_t(file[pos]), uint32_t(ar::get_le(bytes_of(file) + pos + 1, 4))};
		if (file.size() < c.end()) {
			ADD_FAILURE() << "chunk cut at " << pos;
			return a;
		}
		a.body += file.substr(pos + cr::kChunkHeaderSize, c.length);
		a.chunks.push_back(c);
		pos = c.end();
		if (c.flags & cr::kChunkFinal)
			break;
	}
	a.footer_offset = pos;
	EXPECT_EQ(file.size(), pos + ar::kFooterSize) << "the footer follows the final chunk and ends the file";
	if (file.size() >= pos + ar::kFooterSize) {
		a.trailer_offset = ar::get_le(bytes_of(file) + pos, 8);
		a.trailer_chunk = ar::get_le(bytes_of(file) + pos + 8, 8);
		EXPECT_EQ(file.substr(pos + 16, 8), std::string(ar::kFooterMagic, 8));
	}
	return a;
}

// The records of an uncompressed body.
struct RawRecord {
	char type;
	size_t offset; // of the type byte, in the body
	uint32_t length;
};

inline std::vector<RawRecord> raw_records(const std::string &body) {
	std::vector<RawRecord> recs;
	size_t pos = 0;
	while (pos < body.size()) {
		if (body.size() - pos < 5) {
			ADD_FAILURE() << "record header cut at " << pos;
			break;
		}
		uint32_t len = static_cast<uint32_t>(ar::get_le(bytes_of(body) + pos + 1, 4));
		recs.push_back({body[pos], pos, len});
		pos += 5 + size_t(len);
	}
	EXPECT_EQ(pos, body.size()) << "records do not end where the body does";
	return recs;
}

// ---- Hand-made archives: a proper file header, then hand-made plaintext sealed into chunks ----

inline const std::string kHandTenant = "tenant";

inline ar::FileHeader file_header(uint16_t flags = 0, uint32_t chunk_size = 1u << 20) {
	ar::FileHeader h;
	h.flags = flags;
	h.chunk_size = chunk_size;
	h.backup_id = kBackupId;
	h.key_generation = (flags & ar::kFlagEncrypted) ? kKeyGeneration : 0;
	for (size_t i = 0; i < h.base_nonce.size(); i++)
		h.base_nonce[i] = static_cast<uint8_t>(0xa0 + i);
	return h;
}

inline std::string zstd(const std::string &data) {
	std::string out;
	tb::ZstdCompressSink z(std::make_unique<StringSink>(out), 3);
	z.write(bytes_of(data), data.size());
	z.finish();
	return out;
}

inline std::string footer(uint64_t trailer_offset, uint64_t trailer_chunk) {
	std::string f;
	ar::put_u64(f, trailer_offset);
	ar::put_u64(f, trailer_chunk);
	return f + std::string(ar::kFooterMagic, sizeof(ar::kFooterMagic));
}

// The header, then each section sealed into chunks of its own (each a zstd frame when the header
// says so), then a footer that points at the last section.
// starts, when given, receives the file offset and chunk index where each section starts.
inline std::string seal_archive(const ar::FileHeader &header, const std::vector<std::string> &sections,
                                const std::string &tenant = kHandTenant, std::optional<cr::Key> key = std::nullopt,
                                std::vector<std::pair<uint64_t, uint64_t>> *starts = nullptr) {
	std::string file = header.serialize();
	StringSink sink(file);
	cr::ChunkParams params;
	params.key = key;
	params.base_nonce = header.base_nonce;
	params.context = ar::chunk_context(header, tenant);
	params.chunk_size = header.chunk_size;
	cr::ChunkSealSink seal(sink, params);
	uint64_t last_offset = file.size(), last_chunk = 0;
	for (const auto &section : sections) {
		seal.boundary();
		last_offset = file.size();
		last_chunk = seal.next_index();
		if (starts)
			starts->push_back({last_offset, last_chunk});
		std::string data = header.compressed() ? zstd(section) : section;
		seal.write(bytes_of(data), data.size());
	}
	seal.finish();
	return file + footer(last_offset, last_chunk);
}

inline std::string seal_archive(const std::vector<std::string> &sections, uint16_t flags = 0) {
	return seal_archive(file_header(flags), sections);
}

inline std::string record(char type, const std::string &payload) {
	std::string s(1, type);
	ar::put_u32(s, static_cast<uint32_t>(payload.size()));
	return s + payload;
}
inline std::string header_record(const std::string &tenant, const std::string &metadata) {
	std::string p;
	ar::put_string(p, tenant);
	ar::put_string(p, metadata);
	return record('H', p);
}
// with_identity: the optional end of a format 2 record (database, OID, attnums), which writers
// always write; records without it (written before it existed) must read too.
inline std::string table_payload(const ar::TableHeader &t, bool with_identity = true) {
	std::string p;
	ar::put_string(p, t.schema);
	ar::put_string(p, t.name);
	ar::put_string(p, t.tenant_column);
	ar::put_u32(p, static_cast<uint32_t>(t.columns.size()));
	for (const auto &c : t.columns) {
		ar::put_string(p, c.name);
		ar::put_string(p, c.type);
	}
	ar::put_u32(p, static_cast<uint32_t>(t.path.size())); // format 2
	for (const auto &step : t.path) {
		ar::put_string(p, step.constraint);
		ar::put_string(p, step.schema);
		ar::put_string(p, step.name);
		ar::put_u32(p, static_cast<uint32_t>(step.columns.size()));
		for (size_t i = 0; i < step.columns.size(); i++) {
			ar::put_string(p, step.columns[i]);
			ar::put_string(p, step.referenced[i]);
		}
	}
	if (with_identity) {
		ar::put_string(p, t.database);
		ar::put_u32(p, t.relid);
		ar::put_u32(p, static_cast<uint32_t>(t.attnums.size()));
		for (int32_t a : t.attnums)
			ar::put_u32(p, static_cast<uint32_t>(a));
		if (t.constraints) {
			auto names = [&](const std::vector<std::string> &n) {
				ar::put_u32(p, static_cast<uint32_t>(n.size()));
				for (const auto &s : n)
					ar::put_string(p, s);
			};
			auto key = [&](const ar::TableKey &k) {
				names(k.columns);
				ar::put_u32(p, k.nulls_not_distinct ? 1 : 0);
			};
			names(t.constraints->not_null);
			key(t.constraints->primary_key);
			ar::put_u32(p, static_cast<uint32_t>(t.constraints->unique_keys.size()));
			for (const auto &k : t.constraints->unique_keys)
				key(k);
		}
	}
	return p;
}
inline std::string u64_payload(std::initializer_list<uint64_t> values) {
	std::string p;
	for (uint64_t v : values)
		ar::put_u64(p, v);
	return p;
}
// The payload of an archive-end record: counts, then the index.
inline std::string trailer_payload(uint64_t tables, uint64_t rows, const std::vector<ar::TableIndexEntry> &index) {
	std::string p = u64_payload({tables, rows});
	for (const auto &e : index) {
		ar::put_string(p, e.schema);
		ar::put_string(p, e.name);
		ar::put_u64(p, e.chunk);
		ar::put_u64(p, e.offset);
		ar::put_u64(p, e.rows);
	}
	return p;
}

// ---- Sample archives ----

inline ar::TableHeader table_header(const std::string &schema, const std::string &name,
                                    const std::string &tenant_column, const std::vector<ar::Column> &columns) {
	ar::TableHeader h;
	h.schema = schema;
	h.name = name;
	h.tenant_column = tenant_column;
	h.columns = columns;
	return h;
}

// A row of many column "types", as their binary send functions would produce them.
inline std::vector<Field> customer_row(size_t i) {
	static const std::string names[] = {"Zo\xc3\xab \xce\xa9",                    // "Zoë Ω"
	                                    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",   // "日本語"
	                                    "emoji \xf0\x9f\x8e\x89\xf0\x9f\x9a\x80", // two emoji
	                                    "plain ascii", ""};
	std::vector<Field> row;
	row.push_back(be32(42));                                                         // tenant_id integer
	row.push_back(be64(uint64_t(i) * 1000003u));                                     // id bigint
	row.push_back(names[i % 5]);                                                     // name text (sometimes empty)
	row.push_back(std::string(1, i % 2 ? '\1' : '\0'));                              // active boolean: one byte
	row.push_back(i % 3 == 0 ? Field() : Field("note " + std::to_string(i)));        // note text, NULL every third
	row.push_back(std::string());                                                    // always a zero-length value
	row.push_back(i % 5 == 0 ? Field() : Field(random_bytes(i % 300, uint32_t(i)))); // photo bytea
	row.push_back(be64(0x0002a0b1c2d3e4f5ull + i));                                  // created timestamptz
	row.push_back(random_bytes(8 + 2 * (i % 4), uint32_t(i) + 1000));                // price numeric
	row.push_back(i % 7 == 0 ? Field() : Field(random_bytes(20 + i % 11, uint32_t(i) + 2000))); // tags text[]
	return row;
}

inline TableSpec customers_table(size_t rows) {
	TableSpec t;
	t.header = table_header("public", "customers", "tenant_id",
	                        {{"tenant_id", "integer"},
	                         {"id", "bigint"},
	                         {"name", "text"},
	                         {"active", "boolean"},
	                         {"note", "text"},
	                         {"empty_text", "text"},
	                         {"photo", "bytea"},
	                         {"created", "timestamp with time zone"},
	                         {"price", "numeric(12,2)"},
	                         {"tags", "text[]"}});
	// Batches of 1, 7, 100, 1, 7, 100, ... rows.
	static const size_t sizes[] = {1, 7, 100};
	size_t next = 0;
	for (size_t b = 0; next < rows; b++) {
		std::vector<std::vector<Field>> batch;
		for (size_t k = 0; k < sizes[b % 3] && next < rows; k++)
			batch.push_back(customer_row(next++));
		t.add_batch(batch);
	}
	return t;
}

inline TableSpec empty_table() {
	TableSpec t;
	t.header = table_header("audit", "events", "tenant", {{"tenant", "text"}, {"payload", "jsonb"}});
	return t;
}

inline TableSpec zero_column_table() {
	TableSpec t;
	t.header = table_header("public", "markers", "", {});
	t.add_batch({{}, {}, {}});
	return t;
}

inline TableSpec unicode_names_table() {
	TableSpec t;
	t.header = table_header("sch\xc3\xa9ma",
	                        "t\xc3\xa2"
	                        "ble_\xc3\xbc",
	                        "na\xc3\xafve", {{"na\xc3\xafve", "text"}, {"\xe6\x95\xb0\xe9\x87\x8f", "integer"}});
	std::vector<std::vector<Field>> rows;
	for (int i = 0; i < 5; i++)
		rows.push_back({Field("caf\xc3\xa9 " + std::to_string(i)), Field(be32(uint32_t(-i)))});
	t.add_batch(rows);
	return t;
}

// Rows with multi-megabyte fields, so that the data spans several data records.
inline TableSpec blob_table() {
	TableSpec t;
	t.header = table_header("public", "documents", "tenant_id",
	                        {{"tenant_id", "integer"}, {"body", "bytea"}, {"title", "text"}});
	t.add_batch({{be32(42), random_bytes(3500000, 77), Field("big")}});
	t.add_batch({{be32(42), Field(std::string(1, '\x01')), Field("tiny")},
	             {be32(42), compressible_bytes(2200000), Field("text")},
	             {be32(42), Field(), Field()}});
	return t;
}

inline ArchiveSpec small_spec() {
	ArchiveSpec s;
	s.tenant = "acme-42";
	s.metadata = "{\"format\":1,\"note\":\"\xc3\xbcn\xc3\xaf"
	             "c\xc3\xb8"
	             "d\xc3\xa9\"}";
	s.tables = {customers_table(40), empty_table(), zero_column_table(), unicode_names_table()};
	// A table found through foreign keys (format 2): no tenant column, a path of two steps.
	s.tables[1].header.tenant_column.clear();
	s.tables[1].header.path = {
	    {"lines_order_fkey", "public", "orders", {"order_id"}, {"id"}},
	    {"orders_customer_fkey", "public", "customers", {"tenant", "customer"}, {"tenant", "id"}}};
	return s;
}

inline ArchiveSpec large_spec() {
	ArchiveSpec s = small_spec();
	s.tables.push_back(blob_table());
	s.tables.push_back(customers_table(3000));
	return s;
}

// Small enough to flip every bit of: a few rows, an empty table and a table without columns.
inline ArchiveSpec tiny_spec() {
	ArchiveSpec s;
	s.tenant = "acme-42";
	s.metadata = "{\"format\":1}";
	s.tables = {customers_table(3), empty_table(), zero_column_table()};
	return s;
}

} // namespace tbtest
