// Builders and readers of whole archives in memory, shared by the archive tests.
#pragma once
#include "core/archive/archive_reader.hpp"
#include "core/archive/archive_writer.hpp"
#include "core/archive/bytes.hpp"
#include "core/archive/format.hpp"

#include "test_support.hpp"

namespace tbtest {

namespace ar = tb::archive;

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

inline std::string write_archive(const ArchiveSpec &spec, bool compress, int level = 3) {
	std::string file;
	StringSink sink(file);
	ar::ArchiveWriter w(sink, compress, level);
	w.begin(spec.tenant, spec.metadata);
	for (const auto &t : spec.tables) {
		w.begin_table(t.header);
		for (size_t i = 0; i < t.batches.size(); i++)
			w.append_rows(bytes_of(t.batches[i]), t.batches[i].size(), t.batch_rows[i]);
		w.end_table();
	}
	EXPECT_EQ(sink.finished(), 0);
	w.finish();
	EXPECT_EQ(sink.finished(), 1) << "ArchiveWriter::finish must flush the whole chain";
	return file;
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
};

// Reads a whole archive (or its first `length` bytes): every table, every byte of rows, then the
// end of the archive.
inline ReadArchive read_archive(const std::string &file, size_t source_chunk = 65536, size_t read_size = 65536,
                                size_t length = SIZE_MAX) {
	ReadArchive out;
	ar::ArchiveReader r(std::make_unique<PrefixSource>(file, length, source_chunk));
	out.tenant = r.tenant();
	out.metadata = r.metadata();
	std::vector<uint8_t> buf(read_size);
	while (auto t = r.next_table()) {
		ReadTable rt;
		rt.header = *t;
		for (size_t n; (n = r.read_rows(buf.data(), buf.size())) > 0;) {
			EXPECT_LE(n, read_size);
			rt.rows.append(reinterpret_cast<const char *>(buf.data()), n);
		}
		rt.row_count = r.table_rows();
		out.tables.push_back(std::move(rt));
	}
	out.total_rows = r.total_rows();
	return out;
}

// The records of an uncompressed archive, parsed independently of ArchiveReader.
struct RawRecord {
	char type;
	size_t offset; // of the type byte
	uint32_t length;
};

inline std::vector<RawRecord> raw_records(const std::string &file) {
	std::vector<RawRecord> recs;
	size_t pos = ar::kFileHeaderSize;
	while (pos < file.size()) {
		if (file.size() - pos < 5) {
			ADD_FAILURE() << "record header cut at " << pos;
			break;
		}
		uint32_t len = static_cast<uint32_t>(ar::get_le(bytes_of(file) + pos + 1, 4));
		recs.push_back({file[pos], pos, len});
		pos += 5 + size_t(len);
	}
	EXPECT_EQ(pos, file.size()) << "records do not end where the file does";
	return recs;
}

// A file header followed by hand-made records, for malformed archives.
inline std::string file_header(uint16_t version = ar::kFormatVersion, uint16_t flags = 0) {
	std::string s(ar::kMagic, sizeof(ar::kMagic));
	ar::put_u16(s, version);
	ar::put_u16(s, flags);
	return s;
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
inline std::string table_payload(const ar::TableHeader &t) {
	std::string p;
	ar::put_string(p, t.schema);
	ar::put_string(p, t.name);
	ar::put_string(p, t.tenant_column);
	ar::put_u32(p, static_cast<uint32_t>(t.columns.size()));
	for (const auto &c : t.columns) {
		ar::put_string(p, c.name);
		ar::put_string(p, c.type);
	}
	return p;
}
inline std::string u64_payload(std::initializer_list<uint64_t> values) {
	std::string p;
	for (uint64_t v : values)
		ar::put_u64(p, v);
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
	return s;
}

inline ArchiveSpec large_spec() {
	ArchiveSpec s = small_spec();
	s.tables.push_back(blob_table());
	s.tables.push_back(customers_table(3000));
	return s;
}

} // namespace tbtest
