#include "core/archive/archive_reader.hpp"

#include "core/archive/archive_writer.hpp"
#include "core/archive/bytes.hpp"
#include "core/error.hpp"
#include "core/stream/zstd_stream.hpp"

#include <cstring>
#include <unordered_set>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::archive {

namespace {

[[noreturn]] void corrupt(const std::string &what) {
	throw Error(ErrorKind::Corrupt, what);
}
[[noreturn]] void truncated() {
	corrupt("archive is truncated: it ends before its trailer");
}

// Lets a decompressor read from a source the reader does not own.
class BorrowedSource : public Source {
public:
	explicit BorrowedSource(Source &s) : s_(s) {}
	size_t read(uint8_t *buf, size_t cap) override { return s_.read(buf, cap); }

private:
	Source &s_;
};

struct Footer {
	uint64_t trailer_offset, trailer_chunk;
};

struct Trailer {
	uint64_t tables, rows;
	std::vector<TableIndexEntry> index;
};

Trailer parse_trailer(const std::string &payload) {
	PayloadReader r(payload, "trailer");
	Trailer t{r.u64(), r.u64(), {}};
	for (uint64_t i = 0; i < t.tables; i++) {
		TableIndexEntry e;
		e.schema = r.string();
		e.name = r.string();
		e.chunk = r.u64();
		e.offset = r.u64();
		e.rows = r.u64();
		t.index.push_back(std::move(e));
	}
	r.expect_end();
	return t;
}

// A table record's constraints: each name one of the record's columns, each key of at most
// INDEX_MAX_KEYS columns, its flags known.
TableConstraints read_constraints(PayloadReader &r, const TableHeader &table) {
	// (a set: a damaged record may name thousands of columns thousands of times)
	std::unordered_set<std::string> columns;
	for (const auto &c : table.columns)
		columns.insert(c.name);
	auto names = [&](uint32_t most, const char *what) {
		uint32_t n = r.u32();
		if (n > most)
			corrupt("archive is damaged: table record claims " + std::to_string(n) + " " + what);
		std::vector<std::string> out;
		for (uint32_t i = 0; i < n; i++) {
			out.push_back(r.string());
			if (!columns.count(out.back()))
				corrupt("archive is damaged: table record names " + std::string(what) + " of no column of it");
		}
		return out;
	};
	auto key = [&](const char *what) {
		TableKey k;
		k.columns = names(32, what); // PostgreSQL's INDEX_MAX_KEYS
		uint32_t flags = r.u32();
		if (flags > 1)
			corrupt("archive is damaged: table record has unknown key flags");
		k.nulls_not_distinct = flags == 1;
		return k;
	};
	TableConstraints c;
	c.not_null = names(static_cast<uint32_t>(table.columns.size()), "NOT NULL columns");
	c.primary_key = key("primary key columns");
	uint32_t unique = r.u32();
	if (unique > 10000)
		corrupt("archive is damaged: table record claims " + std::to_string(unique) + " unique keys");
	for (uint32_t i = 0; i < unique; i++) {
		c.unique_keys.push_back(key("unique key columns"));
		if (c.unique_keys.back().columns.empty())
			corrupt("archive is damaged: table record has a unique key of no column");
	}
	return c;
}

Footer parse_footer(const uint8_t *b) {
	if (std::memcmp(b + 16, kFooterMagic, sizeof(kFooterMagic)) != 0)
		corrupt("archive is damaged or truncated: its footer is missing");
	return {get_le(b, 8), get_le(b + 8, 8)};
}

} // namespace

FileHeader read_file_header(Source &in) {
	uint8_t bytes[kFileHeaderSize];
	if (!read_exact(in, bytes, sizeof(bytes)))
		corrupt("not a tenant_backup archive (shorter than its header)");
	return FileHeader::parse(bytes);
}

ArchiveReader::ArchiveReader(std::unique_ptr<Source> in, const ReaderOptions &options) : raw_(std::move(in)) {
	header_ = read_file_header(*raw_);
	open_body(options, 0);
	uint8_t type;
	uint32_t len;
	if (!read_record_header(type, len))
		truncated();
	if (type != kRecordHeader)
		corrupt("archive is damaged: it does not start with a header record");
	std::string payload = read_payload(len, "header");
	PayloadReader r(payload, "header");
	tenant_ = r.string();
	metadata_ = r.string();
	r.expect_end();
}

ArchiveReader::ArchiveReader(std::unique_ptr<Source> in, const ReaderOptions &options, const FileHeader &header,
                             const TableIndexEntry &entry)
    : raw_(std::move(in)), header_(header), only_(entry) {
	open_body(options, entry.chunk);
}

ArchiveReader::~ArchiveReader() = default;

void ArchiveReader::open_body(const ReaderOptions &options, uint64_t first_chunk) {
	if (options.backup_id != 0 && header_.backup_id != options.backup_id)
		corrupt("archive belongs to backup " + std::to_string(header_.backup_id) + ", not to backup " +
		        std::to_string(options.backup_id));
	crypto::ChunkParams params;
	if (header_.encrypted()) {
		if (!options.key_for)
			throw Error(ErrorKind::InvalidInput, "archive is encrypted and no key is available");
		params.key = options.key_for(header_.key_generation);
	}
	params.base_nonce = header_.base_nonce;
	params.context = chunk_context(header_, options.tenant);
	params.chunk_size = header_.chunk_size;
	params.first_index = first_chunk;
	chunks_ = std::make_unique<crypto::ChunkOpenSource>(*raw_, std::move(params));
	if (header_.compressed())
		body_ = std::make_unique<ZstdDecompressSource>(std::make_unique<BorrowedSource>(*chunks_));
	else
		body_ = std::make_unique<BorrowedSource>(*chunks_);
}

uint64_t ArchiveReader::chunk_index() const {
	return chunks_ ? chunks_->chunk_index() : 0;
}

bool ArchiveReader::read_record_header(uint8_t &type, uint32_t &len) {
	uint8_t head[5];
	size_t got = 0;
	while (got < sizeof(head)) {
		size_t n = body_->read(head + got, sizeof(head) - got);
		if (n == 0) {
			if (got == 0)
				return false;
			truncated();
		}
		got += n;
	}
	type = head[0];
	len = static_cast<uint32_t>(get_le(head + 1, 4));
	return true;
}

std::string ArchiveReader::read_payload(uint32_t len, const char *what) {
	if (len > kMaxMetaRecord)
		corrupt(std::string("archive is damaged: ") + what + " record claims " + std::to_string(len) + " bytes");
	std::string payload(len, '\0');
	if (!read_exact(*body_, reinterpret_cast<uint8_t *>(payload.data()), len))
		truncated();
	return payload;
}

void ArchiveReader::read_trailer(uint32_t len) {
	Trailer trailer = parse_trailer(read_payload(len, "trailer"));
	if (trailer.tables != seen_.size() || trailer.rows != rows_seen_)
		corrupt("archive is damaged: its trailer does not match its tables");
	for (size_t i = 0; i < trailer.index.size(); i++) {
		const TableIndexEntry &e = trailer.index[i];
		if (e.schema != seen_[i].schema || e.name != seen_[i].name || e.rows != seen_[i].rows)
			corrupt("archive is damaged: its index does not match table " + e.schema + "." + e.name);
	}
	index_ = std::move(trailer.index);
	total_rows_ = trailer.rows;
	uint8_t extra;
	if (body_->read(&extra, 1) != 0)
		corrupt("archive is damaged: data follows its trailer");
	uint8_t footer[kFooterSize];
	if (!read_exact(*raw_, footer, sizeof(footer)))
		corrupt("archive is truncated: its footer is missing");
	Footer f = parse_footer(footer);
	std::optional<uint64_t> start = chunks_->chunk_start(f.trailer_chunk);
	if (!start || kFileHeaderSize + *start != f.trailer_offset)
		corrupt("archive is damaged: its footer does not point at its trailer");
	if (raw_->read(&extra, 1) != 0)
		corrupt("archive is damaged: data follows its footer");
}

std::optional<TableHeader> ArchiveReader::next_table() {
	// Drain what is left of the current table so that its end record is checked.
	uint8_t scratch[65536];
	while (state_ == State::InTable || state_ == State::InData)
		read_rows(scratch, sizeof(scratch));
	if (state_ == State::Done)
		return std::nullopt;
	if (only_ && !seen_.empty()) {
		state_ = State::Done; // one table's section has been read; the rest is not ours
		return std::nullopt;
	}

	// The record that comes may start the trailer, which the footer points at: note where it starts
	// (with zstd the decoder may already have read the trailer's first chunk, or not yet the end of
	// the previous frame).
	if (!only_)
		chunks_->remember_chunk_starts(true);
	uint8_t type;
	uint32_t len;
	if (!read_record_header(type, len))
		truncated();
	if (type == kRecordArchiveEnd && !only_) {
		read_trailer(len);
		state_ = State::Done;
		return std::nullopt;
	}
	chunks_->remember_chunk_starts(false);
	if (type != kRecordTable)
		corrupt("archive is damaged: unexpected record '" + std::string(1, static_cast<char>(type)) +
		        "' where a table should start (chunk " + std::to_string(chunk_index()) + ")");
	std::string payload = read_payload(len, "table");
	PayloadReader r(payload, "table");
	TableHeader table;
	table.schema = r.string();
	table.name = r.string();
	table.tenant_column = r.string();
	uint32_t ncols = r.u32();
	if (ncols > 1600) // PostgreSQL's MaxHeapAttributeNumber
		corrupt("archive is damaged: table record claims " + std::to_string(ncols) + " columns");
	for (uint32_t i = 0; i < ncols; i++) {
		Column c;
		c.name = r.string();
		c.type = r.string();
		table.columns.push_back(std::move(c));
	}
	if (header_.version >= 2) {
		uint32_t steps = r.u32();
		if (steps > 1000)
			corrupt("archive is damaged: table record claims a path of " + std::to_string(steps) + " foreign keys");
		for (uint32_t i = 0; i < steps; i++) {
			PathStep step;
			step.constraint = r.string();
			step.schema = r.string();
			step.name = r.string();
			uint32_t keys = r.u32();
			if (keys > 32) // PostgreSQL's INDEX_MAX_KEYS
				corrupt("archive is damaged: a path step claims " + std::to_string(keys) + " key columns");
			for (uint32_t k = 0; k < keys; k++) {
				step.columns.push_back(r.string());
				step.referenced.push_back(r.string());
			}
			table.path.push_back(std::move(step));
		}
		if (!r.at_end()) { // the table's identity (optional in version 2)
			table.database = r.string();
			table.relid = r.u32();
			uint32_t attnums = r.u32();
			if (attnums != 0 && attnums != ncols)
				corrupt("archive is damaged: table record has " + std::to_string(attnums) + " attnums for " +
				        std::to_string(ncols) + " columns");
			for (uint32_t i = 0; i < attnums; i++)
				table.attnums.push_back(static_cast<int32_t>(r.u32()));
		}
		if (!r.at_end()) // its constraints (optional in version 2, after the identity)
			table.constraints = read_constraints(r, table);
	}
	r.expect_end();
	if (only_ && (table.schema != only_->schema || table.name != only_->name))
		corrupt("archive index points at table " + table.schema + "." + table.name + ", not " + only_->schema + "." +
		        only_->name);
	seen_.push_back({table.schema, table.name, 0, 0, 0});
	state_ = State::InTable;
	table_rows_ = 0;
	return table;
}

size_t ArchiveReader::read_rows(uint8_t *buf, size_t cap) {
	while (state_ == State::InTable) {
		uint8_t type;
		uint32_t len;
		if (!read_record_header(type, len))
			truncated();
		if (type == kRecordData) {
			if (len > kMaxDataRecord)
				corrupt("archive is damaged: data record claims " + std::to_string(len) + " bytes");
			if (len == 0)
				continue;
			data_left_ = len;
			state_ = State::InData;
		} else if (type == kRecordTableEnd) {
			std::string payload = read_payload(len, "table end");
			PayloadReader r(payload, "table end");
			table_rows_ = r.u64();
			r.expect_end();
			rows_seen_ += table_rows_;
			seen_.back().rows = table_rows_;
			if (only_ && table_rows_ != only_->rows)
				corrupt("archive is damaged: table " + only_->schema + "." + only_->name +
				        " does not hold the rows its index records");
			state_ = State::Between;
			return 0;
		} else {
			corrupt("archive is damaged: unexpected record '" + std::string(1, static_cast<char>(type)) +
			        "' inside a table (chunk " + std::to_string(chunk_index()) + ")");
		}
	}
	if (state_ != State::InData)
		return 0;
	size_t want = cap < data_left_ ? cap : data_left_;
	size_t n = body_->read(buf, want);
	if (n == 0)
		truncated();
	data_left_ -= static_cast<uint32_t>(n);
	if (data_left_ == 0)
		state_ = State::InTable;
	return n;
}

std::vector<TableIndexEntry> read_archive_index(Storage &storage, const std::string &name, const ReaderOptions &options,
                                                FileHeader *header_out) {
	uint64_t size = storage.size(name);
	if (size < kFileHeaderSize + kFooterSize)
		corrupt("archive is truncated: shorter than its header and footer");
	FileHeader header = read_file_header(*storage.open_read(name));
	uint8_t footer_bytes[kFooterSize];
	if (!read_exact(*storage.open_read(name, size - kFooterSize), footer_bytes, kFooterSize))
		corrupt("archive is truncated: its footer is missing");
	Footer f = parse_footer(footer_bytes);
	if (f.trailer_offset < kFileHeaderSize || f.trailer_offset >= size - kFooterSize)
		corrupt("archive is damaged: its footer points outside the archive");
	// The trailer is a section of its own: read it as a one-section archive body.
	TableIndexEntry trailer{"", "", f.trailer_chunk, f.trailer_offset, 0};
	ArchiveReader reader(storage.open_read(name, f.trailer_offset), options, header, trailer);
	uint8_t type;
	uint32_t len;
	if (!reader.read_record_header(type, len) || type != kRecordArchiveEnd)
		corrupt("archive is damaged: its footer does not point at its trailer");
	std::vector<TableIndexEntry> index = parse_trailer(reader.read_payload(len, "trailer")).index;
	if (header_out)
		*header_out = header;
	return index;
}

std::unique_ptr<ArchiveReader> open_archive_table(Storage &storage, const std::string &name,
                                                  const ReaderOptions &options, const TableIndexEntry &entry) {
	FileHeader header = read_file_header(*storage.open_read(name));
	return std::make_unique<ArchiveReader>(storage.open_read(name, entry.offset), options, header, entry);
}

} // namespace tb::archive
