// The rows of an archived table as Datums: every field decoded with its column's binary receive
// function, as COPY FROM (FORMAT binary) would, using the column types recorded in the archive.
// Domains are decoded as their base types, so that no CHECK constraint (code of the domain's
// owner) runs with the caller's privileges; types containing domains decode as their owner.
// Shared by verify (decode and discard), download and CSV export (decode and render).
#pragma once
#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <memory>
#include <vector>

namespace tb::pg {

// How a field of an archived column is decoded: with the receive function of the column's type as
// recorded in the archive (a domain as its base type; code of a type's owner runs as that owner).
// Shared by ArchiveRowDecoder and the restore's type conversions (column_mapping.hpp).
struct ArchivedType {
	FmgrInfo receive;
	Oid typid, ioparam; // typid: the archived type (a domain's values are its base type's)
	int32 typmod;
	Oid decode_typid; // the type whose receive function decodes (a domain's base type)
	int32 decode_typmod;
	Oid run_as; // InvalidOid, or the role whose code decoding runs (see type_code.hpp)
	// Looks the type up by its format_type() spelling; false (nothing set) when `missing_ok` and it
	// no longer exists. Plain PostgreSQL calls (inside pg_call).
	bool init(const char *type, bool missing_ok);
	// Decodes one field's bytes, as COPY FROM (FORMAT binary) would. Plain PostgreSQL calls.
	Datum decode(const uint8_t *data, int32 length, const char *column);
};

class ArchiveRowDecoder {
public:
	// Reads the reader's current table. Looks up every column's type and receive function; fails
	// if a type no longer exists.
	ArchiveRowDecoder(archive::ArchiveReader &reader, const archive::TableHeader &table);
	~ArchiveRowDecoder();
	// Decodes the next row into values()/nulls(), in a memory context that the next call resets;
	// false after the last row.
	bool next();
	const Datum *values() const { return values_.data(); }
	const bool *nulls() const { return nulls_.get(); }
	size_t columns() const { return columns_.size(); }
	Oid type(size_t i) const { return columns_[i].typid; }
	// A blessed descriptor of the archived columns (names and types), e.g. for row_to_json.
	TupleDesc tuple_desc();
	uint64 rows() const { return rows_; }
	// The context of the current row's values, reset by next(): for memory derived from them.
	MemoryContext row_context() const { return row_context_; }

private:
	using Column = ArchivedType;
	const archive::TableHeader &table_;
	archive::TableRows source_;
	archive::CopyTupleReader tuples_;
	std::vector<archive::CopyTupleReader::Field> fields_;
	std::vector<Column> columns_;
	std::vector<Datum> values_;
	std::unique_ptr<bool[]> nulls_;
	MemoryContext row_context_ = nullptr;
	TupleDesc desc_ = nullptr;
	uint64 rows_ = 0;
};

} // namespace tb::pg
