// Reads an archive as a stream, checking its framing and authentication; every malformed,
// truncated, altered or foreign input raises tb::Error(ErrorKind::Corrupt) with a message that
// says what was wrong and in which chunk.
#pragma once
#include "core/archive/format.hpp"
#include "core/crypto/chunk_cipher.hpp"
#include "core/storage/storage.hpp"
#include "core/stream/stream.hpp"

#include <functional>
#include <memory>
#include <optional>

namespace tb::archive {

struct ReaderOptions {
	uint64_t backup_id = 0; // the archive must belong to this backup (0: any)
	std::string tenant;     // and to this tenant (part of every chunk's associated data)
	// The data key of a key generation, for encrypted archives; throws if it is unavailable.
	std::function<crypto::Key(uint32_t generation)> key_for;
};

// Reads and checks the 64-byte file header.
FileHeader read_file_header(Source &in);

class ArchiveReader {
public:
	// Reads a whole archive from its first byte.
	ArchiveReader(std::unique_ptr<Source> in, const ReaderOptions &options);
	// Reads one table's section: `in` starts at entry.offset of the archive whose header is given.
	ArchiveReader(std::unique_ptr<Source> in, const ReaderOptions &options, const FileHeader &header,
	              const TableIndexEntry &entry);
	~ArchiveReader();
	const FileHeader &header() const { return header_; }
	const std::string &tenant() const { return tenant_; }
	const std::string &metadata() const { return metadata_; }
	// Advances to the next table, skipping what is left of the current one; nullopt after the last
	// table, once the trailer, its index and the footer have been checked.
	std::optional<TableHeader> next_table();
	// Reads tuple bytes of the current table; 0 at its end. Whole-tuple boundaries are not kept.
	size_t read_rows(uint8_t *buf, size_t cap);
	// The row count the writer recorded for the current table; valid once read_rows returned 0.
	uint64_t table_rows() const { return table_rows_; }
	uint64_t total_rows() const { return total_rows_; }
	// The trailer's table index; complete once next_table() returned nullopt.
	const std::vector<TableIndexEntry> &index() const { return index_; }
	// Index of the chunk being read, for error messages.
	uint64_t chunk_index() const;

private:
	friend std::vector<TableIndexEntry> read_archive_index(Storage &, const std::string &, const ReaderOptions &,
	                                                       FileHeader *);
	void open_body(const ReaderOptions &options, uint64_t first_chunk);
	bool read_record_header(uint8_t &type, uint32_t &len);
	std::string read_payload(uint32_t len, const char *what);
	void read_trailer(uint32_t len);
	std::unique_ptr<Source> raw_;
	std::unique_ptr<crypto::ChunkOpenSource> chunks_;
	std::unique_ptr<Source> body_;
	FileHeader header_;
	std::string tenant_, metadata_;
	std::optional<TableIndexEntry> only_; // set when reading one table's section
	enum class State { Between, InTable, InData, Done } state_ = State::Between;
	uint32_t data_left_ = 0;
	uint64_t table_rows_ = 0, total_rows_ = 0, rows_seen_ = 0;
	std::vector<TableIndexEntry> seen_, index_;
};

// The rows of the reader's current table as a Source.
class TableRows : public Source {
public:
	explicit TableRows(ArchiveReader &reader) : reader_(reader) {}
	size_t read(uint8_t *buf, size_t cap) override { return reader_.read_rows(buf, cap); }

private:
	ArchiveReader &reader_;
};

// Reads the table index from the trailer at the end of a stored archive, decrypting only the
// trailer; header_out receives the archive's header.
std::vector<TableIndexEntry> read_archive_index(Storage &storage, const std::string &name, const ReaderOptions &options,
                                                FileHeader *header_out = nullptr);

// Opens one table of a stored archive through its index entry.
std::unique_ptr<ArchiveReader> open_archive_table(Storage &storage, const std::string &name,
                                                  const ReaderOptions &options, const TableIndexEntry &entry);

} // namespace tb::archive
