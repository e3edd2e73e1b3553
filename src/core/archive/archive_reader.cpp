#include "core/cpp_only.hpp"
#include "core/archive/archive_reader.hpp"

#include "core/archive/bytes.hpp"
#include "core/error.hpp"
#include "core/stream/zstd_stream.hpp"

#include <cstring>

namespace tb::archive {

namespace {

[[noreturn]] void corrupt(const std::string &what) { throw Error(ErrorKind::Corrupt, what); }
[[noreturn]] void truncated() { corrupt("archive is truncated: it ends before its end record"); }

} // namespace

ArchiveReader::ArchiveReader(std::unique_ptr<Source> in) {
	uint8_t header[kFileHeaderSize];
	if (!read_exact(*in, header, sizeof(header)) || std::memcmp(header, kMagic, sizeof(kMagic)) != 0)
		corrupt("not a tenant_backup archive (bad magic bytes)");
	uint16_t version = static_cast<uint16_t>(get_le(header + 8, 2));
	uint16_t flags = static_cast<uint16_t>(get_le(header + 10, 2));
	if (version != kFormatVersion)
		corrupt("unsupported archive format version " + std::to_string(version));
	if (flags & ~kFlagZstd)
		corrupt("archive uses unknown features (flags " + std::to_string(flags) + ")");
	if (flags & kFlagZstd)
		body_ = std::make_unique<ZstdDecompressSource>(std::move(in));
	else
		body_ = std::move(in);

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

ArchiveReader::~ArchiveReader() = default;

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

std::optional<TableHeader> ArchiveReader::next_table() {
	// Drain what is left of the current table so that its end record is checked.
	uint8_t scratch[65536];
	while (state_ == State::InTable || state_ == State::InData)
		read_rows(scratch, sizeof(scratch));
	if (state_ == State::Done)
		return std::nullopt;

	uint8_t type;
	uint32_t len;
	if (!read_record_header(type, len))
		truncated();
	if (type == kRecordArchiveEnd) {
		std::string payload = read_payload(len, "end");
		PayloadReader r(payload, "end");
		uint64_t tables = r.u64(), rows = r.u64();
		r.expect_end();
		if (tables != tables_ || rows != rows_seen_)
			corrupt("archive is damaged: its end record does not match its tables");
		total_rows_ = rows;
		uint8_t extra;
		if (body_->read(&extra, 1) != 0)
			corrupt("archive is damaged: bytes follow its end record");
		state_ = State::Done;
		return std::nullopt;
	}
	if (type != kRecordTable)
		corrupt("archive is damaged: unexpected record '" + std::string(1, static_cast<char>(type)) +
		        "' where a table should start");
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
	r.expect_end();
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
			tables_++;
			state_ = State::Between;
			return 0;
		} else {
			corrupt("archive is damaged: unexpected record '" + std::string(1, static_cast<char>(type)) +
			        "' inside a table");
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

} // namespace tb::archive
