// Reads an archive as a stream, checking its framing; every malformed, truncated or foreign input
// raises tb::Error(ErrorKind::Corrupt) with a message that says what was wrong.
#pragma once
#include "core/archive/format.hpp"
#include "core/stream/stream.hpp"

#include <memory>
#include <optional>

namespace tb::archive {

class ArchiveReader {
public:
	explicit ArchiveReader(std::unique_ptr<Source> in);
	~ArchiveReader();
	const std::string &tenant() const { return tenant_; }
	const std::string &metadata() const { return metadata_; }
	// Advances to the next table, skipping what is left of the current one; nullopt after the last
	// table, once the end record and the end of the stream have been checked.
	std::optional<TableHeader> next_table();
	// Reads tuple bytes of the current table; 0 at its end. Whole-tuple boundaries are not kept.
	size_t read_rows(uint8_t *buf, size_t cap);
	// The row count the writer recorded for the current table; valid once read_rows returned 0.
	uint64_t table_rows() const { return table_rows_; }
	uint64_t total_rows() const { return total_rows_; }

private:
	bool read_record_header(uint8_t &type, uint32_t &len);
	std::string read_payload(uint32_t len, const char *what);
	std::unique_ptr<Source> body_;
	std::string tenant_, metadata_;
	enum class State { Between, InTable, InData, Done } state_ = State::Between;
	uint32_t data_left_ = 0;
	uint64_t table_rows_ = 0, total_rows_ = 0, tables_ = 0, rows_seen_ = 0;
};

// The rows of the reader's current table as a Source.
class TableRows : public Source {
public:
	explicit TableRows(ArchiveReader &reader) : reader_(reader) {}
	size_t read(uint8_t *buf, size_t cap) override { return reader_.read_rows(buf, cap); }

private:
	ArchiveReader &reader_;
};

} // namespace tb::archive
