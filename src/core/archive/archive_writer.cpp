#include "core/archive/archive_writer.hpp"

#include "core/archive/bytes.hpp"
#include "core/error.hpp"
#include "core/stream/threaded_sink.hpp"
#include "core/stream/zstd_stream.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::archive {

// Passes bytes on to the writer's output and counts them (file offsets for the index); finishing
// is left to the writer, which still has the footer to write.
class ArchiveWriter::Counter : public Sink {
public:
	explicit Counter(Sink &target) : target_(target) {}
	void write(const uint8_t *data, size_t len) override {
		target_.write(data, len);
		bytes_ += len;
	}
	void finish() override {}
	uint64_t bytes() const { return bytes_; }

private:
	Sink &target_;
	uint64_t bytes_ = 0;
};

namespace {

// Lets a compressor write into a sink the writer does not own.
class BorrowedSink : public Sink {
public:
	explicit BorrowedSink(Sink &target) : target_(target) {}
	void write(const uint8_t *data, size_t len) override { target_.write(data, len); }
	void finish() override { target_.finish(); }
	void boundary() override { target_.boundary(); }

private:
	Sink &target_;
};

void misuse(const char *what) {
	throw Error(ErrorKind::Internal, std::string("archive writer misuse: ") + what);
}

} // namespace

std::string chunk_context(const FileHeader &header, const std::string &tenant) {
	std::string context = header.serialize();
	put_string(context, tenant);
	return context;
}

ArchiveWriter::ArchiveWriter(Sink &out, WriterOptions options) : out_(out), options_(std::move(options)) {
	if (options_.key.has_value() != (options_.key_generation != 0))
		misuse("a key needs a non-zero key generation, and only a key does");
	header_.flags =
	    static_cast<uint16_t>((options_.compression_level > 0 ? kFlagZstd : 0) | (options_.key ? kFlagEncrypted : 0));
	header_.chunk_size = options_.chunk_size;
	header_.backup_id = options_.backup_id;
	header_.key_generation = options_.key_generation;
	crypto::random_bytes(header_.base_nonce.data(), header_.base_nonce.size());

	counter_ = std::make_unique<Counter>(out_);
	std::string head = header_.serialize();
	counter_->write(reinterpret_cast<const uint8_t *>(head.data()), head.size());
	crypto::ChunkParams params;
	params.key = options_.key;
	params.base_nonce = header_.base_nonce;
	params.context = chunk_context(header_, options_.tenant);
	params.chunk_size = options_.chunk_size;
	chunks_ = std::make_unique<crypto::ChunkSealSink>(*counter_, std::move(params));
	auto borrowed = std::make_unique<BorrowedSink>(*chunks_);
	if (options_.compression_level > 0)
		body_ = std::make_unique<ZstdCompressSink>(std::move(borrowed), options_.compression_level);
	else
		body_ = std::move(borrowed);
	if (options_.background)
		thread_ = std::make_unique<ThreadedSink>(*body_);
	front_ = thread_ ? thread_.get() : body_.get();
}

ArchiveWriter::~ArchiveWriter() = default;

void ArchiveWriter::record(RecordType type, const uint8_t *payload, size_t len) {
	std::string head;
	head.push_back(static_cast<char>(type));
	put_u32(head, static_cast<uint32_t>(len));
	front_->write(reinterpret_cast<const uint8_t *>(head.data()), head.size());
	if (len)
		front_->write(payload, len);
}

// Ends the current zstd frame and chunk, and notes where the next section starts.
void ArchiveWriter::start_section() {
	front_->boundary(); // with a helper thread, returns once it has caught up
	section_offset_ = counter_->bytes();
	section_chunk_ = chunks_->next_index();
}

void ArchiveWriter::begin(const std::string &metadata) {
	if (state_ != State::Fresh)
		misuse("begin called twice");
	std::string payload;
	put_string(payload, options_.tenant);
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
	put_u32(payload, static_cast<uint32_t>(table.path.size()));
	for (const auto &step : table.path) {
		put_string(payload, step.constraint);
		put_string(payload, step.schema);
		put_string(payload, step.name);
		put_u32(payload, static_cast<uint32_t>(step.columns.size()));
		for (size_t i = 0; i < step.columns.size(); i++) {
			put_string(payload, step.columns[i]);
			put_string(payload, i < step.referenced.size() ? step.referenced[i] : std::string());
		}
	}
	put_string(payload, table.database);
	put_u32(payload, table.relid);
	put_u32(payload, static_cast<uint32_t>(table.attnums.size()));
	for (int32_t attnum : table.attnums)
		put_u32(payload, static_cast<uint32_t>(attnum));
	if (table.constraints) { // after the identity, which is always written
		auto put_names = [&](const std::vector<std::string> &names) {
			put_u32(payload, static_cast<uint32_t>(names.size()));
			for (const auto &n : names)
				put_string(payload, n);
		};
		auto put_key = [&](const TableKey &key) {
			put_names(key.columns);
			put_u32(payload, key.nulls_not_distinct ? 1u : 0u);
		};
		put_names(table.constraints->not_null);
		put_key(table.constraints->primary_key);
		put_u32(payload, static_cast<uint32_t>(table.constraints->unique_keys.size()));
		for (const auto &key : table.constraints->unique_keys)
			put_key(key);
	}
	if (payload.size() > kMaxMetaRecord)
		throw Error(ErrorKind::InvalidInput, "table description is too large");
	start_section();
	index_.push_back({table.schema, table.name, section_chunk_, section_offset_, 0});
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
	index_.back().rows = table_rows_;
	total_rows_ += table_rows_;
	state_ = State::Archive;
}

void ArchiveWriter::finish() {
	if (state_ != State::Archive)
		misuse("finish outside an archive or inside a table");
	std::string payload;
	put_u64(payload, index_.size());
	put_u64(payload, total_rows_);
	for (const auto &e : index_) {
		put_string(payload, e.schema);
		put_string(payload, e.name);
		put_u64(payload, e.chunk);
		put_u64(payload, e.offset);
		put_u64(payload, e.rows);
	}
	if (payload.size() > kMaxMetaRecord)
		throw Error(ErrorKind::InvalidInput, "archive index is too large");
	start_section();
	uint64_t trailer_offset = section_offset_, trailer_chunk = section_chunk_;
	record(kRecordArchiveEnd, reinterpret_cast<const uint8_t *>(payload.data()), payload.size());
	front_->finish(); // ends the zstd frame and seals the final chunk
	std::string footer;
	put_u64(footer, trailer_offset);
	put_u64(footer, trailer_chunk);
	footer.append(kFooterMagic, sizeof(kFooterMagic));
	counter_->write(reinterpret_cast<const uint8_t *>(footer.data()), footer.size());
	out_.finish();
	state_ = State::Finished;
}

} // namespace tb::archive
