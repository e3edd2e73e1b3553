// Writes an archive as a stream: the caller feeds tables and their binary COPY tuples; nothing
// is held in memory beyond one data record.
#pragma once
#include "core/archive/format.hpp"
#include "core/stream/stream.hpp"

#include <memory>

namespace tb::archive {

class ArchiveWriter {
public:
	// out receives the complete file (header included); compress selects zstd at level.
	ArchiveWriter(Sink &out, bool compress, int level = 3);
	~ArchiveWriter();
	void begin(const std::string &tenant, const std::string &metadata);
	void begin_table(const TableHeader &table);
	// data holds `rows` whole tuples in PostgreSQL's binary COPY tuple format.
	void append_rows(const uint8_t *data, size_t len, uint64_t rows);
	void end_table();
	// Writes the end record and flushes the whole chain (including out).
	void finish();

private:
	void record(RecordType type, const uint8_t *payload, size_t len);
	enum class State { Fresh, Archive, Table, Finished } state_ = State::Fresh;
	Sink &out_;
	std::unique_ptr<Sink> body_; // out_ itself or a compressor in front of it
	uint64_t table_rows_ = 0, total_rows_ = 0, tables_ = 0;
};

} // namespace tb::archive
