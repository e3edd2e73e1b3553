// Writes an archive as a stream: the caller feeds tables and their binary COPY tuples; nothing
// is held in memory beyond one chunk and zstd's window.
#pragma once
#include "core/archive/format.hpp"
#include "core/crypto/chunk_cipher.hpp"
#include "core/stream/stream.hpp"

#include <memory>
#include <optional>

namespace tb::archive {

struct WriterOptions {
	uint64_t backup_id = 0;
	std::string tenant;        // bound to every chunk as associated data
	int compression_level = 3; // zstd level; 0 stores the body uncompressed
	std::optional<crypto::Key> key;
	uint32_t key_generation = 0; // non-zero exactly when key is set
	uint32_t chunk_size = 1u << 20;
	// Compress, encrypt, hash and write on a helper thread (ThreadedSink), overlapping with the
	// producer. The caller's `out` is then written from that thread.
	bool background = false;
};

class ArchiveWriter {
public:
	// out receives the complete file (header, chunks, footer).
	ArchiveWriter(Sink &out, WriterOptions options);
	~ArchiveWriter();
	void begin(const std::string &metadata);
	void begin_table(const TableHeader &table);
	// data holds `rows` whole tuples in PostgreSQL's binary COPY tuple format.
	void append_rows(const uint8_t *data, size_t len, uint64_t rows);
	void end_table();
	// Writes the trailer and footer and flushes the whole chain (including out).
	void finish();
	const FileHeader &header() const { return header_; }

private:
	class Counter;
	void record(RecordType type, const uint8_t *payload, size_t len);
	void start_section();
	enum class State { Fresh, Archive, Table, Finished } state_ = State::Fresh;
	Sink &out_;
	WriterOptions options_;
	FileHeader header_;
	std::unique_ptr<Counter> counter_;
	std::unique_ptr<crypto::ChunkSealSink> chunks_;
	std::unique_ptr<Sink> body_;   // chunks_ itself or a compressor in front of it
	std::unique_ptr<Sink> thread_; // a ThreadedSink in front of body_ (declared after: stops first)
	Sink *front_ = nullptr;        // where records are written: thread_ or body_
	std::vector<TableIndexEntry> index_;
	uint64_t section_offset_ = 0, section_chunk_ = 0;
	uint64_t table_rows_ = 0, total_rows_ = 0;
};

// The associated data that binds chunks to one archive: its header and its tenant.
std::string chunk_context(const FileHeader &header, const std::string &tenant);

} // namespace tb::archive
