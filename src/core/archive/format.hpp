// The archive format, version 1 (docs/FORMAT.md describes it for readers of the files).
//
//   file    := header[64] chunk* footer[24]
//   header  := magic[8] version:u16le flags:u16le chunk_size:u32le backup_id:u64le
//              key_generation:u32le base_nonce[12] zero[24]
//   chunk   := sealed by crypto::ChunkSealSink (AES-256-GCM when encrypted); the data of all
//              chunks, concatenated, is the body
//   body    := sections, each one zstd frame when flags has kFlagZstd:
//              [H] [T D* E] per table [Z]; every section after the first starts a new chunk
//   record  := type:u8 length:u32le payload[length]
//   footer  := trailer_offset:u64le trailer_chunk:u64le "TBKTRAIL"
//
// Chunks are bound to the header and the tenant (associated data), so an archive of another
// backup or tenant, a reordered, dropped or altered chunk, and truncation are all detected. The
// trailer's 'Z' record holds an index: where each table's section starts, so one table can be
// read without decrypting the others.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tb::archive {

constexpr char kMagic[8] = {'T', 'N', 'T', 'B', 'K', 'U', 'P', '\n'};
constexpr char kFooterMagic[8] = {'T', 'B', 'K', 'T', 'R', 'A', 'I', 'L'};
// Version 2 (tenant_backup 0.2.0) adds each table's ownership path to its 'T' record, and after it
// (optional, so that version 2 records without it still read) the table's identity: the
// database, the table's OID and each column's attnum, by which a restore into the same database
// finds a table or column renamed since. Version 1 archives (0.1.0) are read as before.
constexpr uint16_t kFormatVersion = 2;
constexpr uint16_t kOldestFormatVersion = 1;
constexpr uint16_t kFlagZstd = 1;
constexpr uint16_t kFlagEncrypted = 2;
constexpr size_t kFileHeaderSize = 64;
constexpr size_t kFooterSize = 24;

enum RecordType : uint8_t {
	kRecordHeader = 'H',     // tenant, then opaque metadata (JSON written by the PostgreSQL layer)
	kRecordTable = 'T',      // TableHeader
	kRecordData = 'D',       // PostgreSQL binary COPY tuples of the current table
	kRecordTableEnd = 'E',   // u64le row count of the current table
	kRecordArchiveEnd = 'Z', // u64le table count, u64le total rows, then the table index
};

// A data record never exceeds this; other records are bounded so a damaged length cannot make a
// reader allocate gigabytes.
constexpr uint32_t kMaxDataRecord = 1u << 20;
constexpr uint32_t kMaxMetaRecord = 64u << 20;

struct FileHeader {
	uint16_t version = kFormatVersion;
	uint16_t flags = 0;
	uint32_t chunk_size = 1u << 20;
	uint64_t backup_id = 0;
	uint32_t key_generation = 0; // 0 when not encrypted
	std::array<uint8_t, 12> base_nonce{};

	bool compressed() const { return flags & kFlagZstd; }
	bool encrypted() const { return flags & kFlagEncrypted; }
	std::string serialize() const;
	// Throws Corrupt for a wrong magic, unknown version or flags, or a bad chunk size.
	static FileHeader parse(const uint8_t *bytes);
};

struct Column {
	std::string name;
	std::string type; // as PostgreSQL's format_type() prints it
	bool operator==(const Column &o) const { return name == o.name && type == o.type; }
};

// One foreign key of a table's ownership path: the constraint (on the table of the previous step,
// or on the table itself for the first), the table it references, and its columns on both sides
// (in key order), so that a key redefined under the same name is not taken for the same path.
struct PathStep {
	std::string constraint;
	std::string schema, name;
	std::vector<std::string> columns, referenced;
	bool operator==(const PathStep &o) const {
		return constraint == o.constraint && schema == o.schema && name == o.name && columns == o.columns &&
		       referenced == o.referenced;
	}
};

// A key of a table (its primary key or a unique key), as a backup records it: its columns in key
// order; a unique key's NULLS NOT DISTINCT.
struct TableKey {
	std::vector<std::string> columns;
	bool nulls_not_distinct = false;
	bool operator==(const TableKey &o) const {
		return columns == o.columns && nulls_not_distinct == o.nulls_not_distinct;
	}
};

// What a table's rows were constrained by at the backup (format 2, optional, after the table's
// identity; written since issue 21): its NOT NULL columns, its primary key (no columns: none) and
// its unique keys (valid, not partial, on plain columns), each naming columns of the table record.
// backup_restore_into creates a table dropped since with them.
struct TableConstraints {
	std::vector<std::string> not_null;
	TableKey primary_key;
	std::vector<TableKey> unique_keys;
	bool operator==(const TableConstraints &o) const {
		return not_null == o.not_null && primary_key == o.primary_key && unique_keys == o.unique_keys;
	}
};

struct TableHeader {
	std::string schema;
	std::string name;
	std::string tenant_column;   // empty for a table whose rows are found through `path`
	std::vector<Column> columns; // in the order of the fields of each tuple
	std::vector<PathStep> path;  // foreign keys to a table with the tenant column (format 2)
	// Where the table was (format 2, optional): the database ("<system identifier>/<database
	// OID>"), the table's OID and each column's attnum; empty/0 when not recorded.
	std::string database;
	uint32_t relid = 0;
	std::vector<int32_t> attnums; // per column, or empty
	// Recorded only by archives written since issue 21 (nullopt: not recorded, which is not "none").
	std::optional<TableConstraints> constraints;
	bool operator==(const TableHeader &o) const {
		return schema == o.schema && name == o.name && tenant_column == o.tenant_column && columns == o.columns &&
		       path == o.path && database == o.database && relid == o.relid && attnums == o.attnums &&
		       constraints == o.constraints;
	}
};

// Where a table's section starts, from the trailer.
struct TableIndexEntry {
	std::string schema, name;
	uint64_t chunk = 0;  // index of its first chunk
	uint64_t offset = 0; // file offset of its first chunk
	uint64_t rows = 0;
};

} // namespace tb::archive
