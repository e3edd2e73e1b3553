#include "core/cpp_only.hpp"
#include "core/archive/archive_writer.hpp"

#include "core/archive/bytes.hpp"
#include "core/error.hpp"
#include "core/stream/zstd_stream.hpp"

namespace tb::archive {

namespace {

// Lets a compressor write into a sink the writer does not own.
class BorrowedSink : public Sink {
public:
	explicit BorrowedSink(Sink &target) : target_(target) {}
	void write(const uint8_t *data, size_t len) override { target_.write(data, len); }
	void finish() override { target_.finish(); }

private:
	Sink &target_;
};

void misuse(const char *what) { throw Error(ErrorKind::Internal, std::string("archive writer misuse: ") + what); }

} // namespace

ArchiveWriter::ArchiveWriter(Sink &out, bool compress, int level) : out_(out) {
	std::string header(kMagic, sizeof(kMagic));
	put_u16(header, kFormatVersion);
	put_u16(header, compress ? kFlagZstd : 0);
	out_.write(reinterpret_cast<const uint8_t *>(header.data()), header.size());
	auto borrowed = std::make_unique<BorrowedSink>(out_);
	if (compress)
		body_ = std::make_unique<ZstdCompressSink>(std::move(borrowed), level);
	else
		body_ = std::move(borrowed);
}

ArchiveWriter::~ArchiveWriter() = default;

void ArchiveWriter::record(RecordType type, const uint8_t *payload, size_t len) {
	std::string head;
	head.push_back(static_cast<char>(type));
	put_u32(head, static_cast<uint32_t>(len));
	body_->write(reinterpret_cast<const uint8_t *>(head.data()), head.size());
	if (len)
		body_->write(payload, len);
}

void ArchiveWriter::begin(const std::string &tenant, const std::string &metadata) {
	if (state_ != State::Fresh)
		misuse("begin called twice");
	std::string payload;
	put_string(payload, tenant);
	put_string(payload, metadata);
	if (payload.size() > kMaxMetaRecord)
		throw Error(ErrorKind::InvalidInput, "archive metadata is too large");
	record(kRecordHeader, reinterpret_cast<const uint8_t *>(payload.data()), payload.size());
	state_ = State::Archive;
}

void ArchiveWriter::begin_table(const TableHeader &table) {
	if (state_ != State::Archive)
		misuse("begin_table outside an archive or inside a table");
	std::string payload;
	put_string(payload, table.schema);
	put_string(payload, table.name);
	put_string(payload, table.tenant_column);
	put_u32(payload, static_cast<uint32_t>(table.columns.size()));
	for (const auto &c : table.columns) {
		put_string(payload, c.name);
		put_string(payload, c.type);
	}
	if (payload.size() > kMaxMetaRecord)
		throw Error(ErrorKind::InvalidInput, "table description is too large");
	record(kRecordTable, reinterpret_cast<const uint8_t *>(payload.data()), payload.size());
	state_ = State::Table;
	table_rows_ = 0;
}

void ArchiveWriter::append_rows(const uint8_t *data, size_t len, uint64_t rows) {
	if (state_ != State::Table)
		misuse("append_rows outside a table");
	while (len > 0) {
		size_t chunk = len < kMaxDataRecord ? len : kMaxDataRecord;
		record(kRecordData, data, chunk);
		data += chunk;
		len -= chunk;
	}
	table_rows_ += rows;
}

void ArchiveWriter::end_table() {
	if (state_ != State::Table)
		misuse("end_table outside a table");
	std::string payload;
	put_u64(payload, table_rows_);
	record(kRecordTableEnd, reinterpret_cast<const uint8_t *>(payload.data()), payload.size());
	total_rows_ += table_rows_;
	tables_++;
	state_ = State::Archive;
}

void ArchiveWriter::finish() {
	if (state_ != State::Archive)
		misuse("finish outside an archive or inside a table");
	std::string payload;
	put_u64(payload, tables_);
	put_u64(payload, total_rows_);
	record(kRecordArchiveEnd, reinterpret_cast<const uint8_t *>(payload.data()), payload.size());
	body_->finish();
	state_ = State::Finished;
}

} // namespace tb::archive
