// The archive format, version 1 (docs/FORMAT.md describes it for readers of the files).
//
//   file   := magic[8] version:u16le flags:u16le body
//   body   := records, zstd-compressed when flags has kFlagZstd
//   record := type:u8 length:u32le payload[length]
//
// Records, in order: one 'H' (header), then per table one 'T', any number of 'D', one 'E';
// finally one 'Z'. Nothing may follow 'Z': a missing 'Z' means the archive is truncated.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tb::archive {

constexpr char kMagic[8] = {'T', 'N', 'T', 'B', 'K', 'U', 'P', '\n'};
constexpr uint16_t kFormatVersion = 1;
constexpr uint16_t kFlagZstd = 1;
constexpr size_t kFileHeaderSize = 12;

enum RecordType : uint8_t {
	kRecordHeader = 'H',     // tenant, then opaque metadata (JSON written by the PostgreSQL layer)
	kRecordTable = 'T',      // TableHeader
	kRecordData = 'D',       // PostgreSQL binary COPY tuples of the current table (whole tuples)
	kRecordTableEnd = 'E',   // u64le row count of the current table
	kRecordArchiveEnd = 'Z', // u64le table count, u64le total row count
};

// A data record never exceeds this; other records are bounded so a damaged length cannot make a
// reader allocate gigabytes.
constexpr uint32_t kMaxDataRecord = 1u << 20;
constexpr uint32_t kMaxMetaRecord = 64u << 20;

struct Column {
	std::string name;
	std::string type; // as PostgreSQL's format_type() prints it
	bool operator==(const Column &o) const { return name == o.name && type == o.type; }
};

struct TableHeader {
	std::string schema;
	std::string name;
	std::string tenant_column;
	std::vector<Column> columns; // in the order of the fields of each tuple
	bool operator==(const TableHeader &o) const {
		return schema == o.schema && name == o.name && tenant_column == o.tenant_column && columns == o.columns;
	}
};

} // namespace tb::archive
