// The line layout of the JSON download (docs/FORMAT.md, "The JSON download"): backup_download
// writes the document one line per table row, and backup_import reads it back line by line, so
// neither ever holds more than one row. The JSON inside the lines is parsed by PostgreSQL; this
// file knows how the lines frame it and how the trailing checksum covers them.
//
//   {"format": "tenant_backup.json", "format_version": 1, "backup": {...}, "tables": [
//   {"schema": ..., "name": ..., "tenant_column": ..., "columns": [...], "rows": [
//   {row}
//   ,{row}
//   ], "row_count": 2}
//   ,{"schema": ... "rows": [
//   ], "row_count": 0}
//   ], "sha256": "<SHA-256 of every line above, each followed by \n>"}
#pragma once
#include "core/stream/line_reader.hpp"

#include <cstdint>
#include <string>

namespace tb::document {

inline constexpr const char *kFormatName = "tenant_backup.json";
inline constexpr int kFormatVersion = 1;
// The longest line a reader accepts: a line holds one row, and PostgreSQL cannot hold a text
// value of 1 GB or more.
inline constexpr size_t kMaxLineBytes = size_t(1) << 30;

// Writing. `backup` is the "backup" JSON object; `table` holds a table object's fields before
// "rows" (`"schema": ..., "columns": [...]`). Rows are written as `row` or `,row`.
std::string header_line(const std::string &backup);
std::string table_start_line(const std::string &table, bool first);
std::string table_end_line(uint64_t rows);
std::string checksum_line(const std::string &hex_sha256);

// Pass one of an import: reads every line, checks that the document is one of ours, complete,
// and that its trailing SHA-256 matches the lines before it. Throws InvalidInput for a
// document that is not ours, Corrupt for a truncated or altered one.
void check_document(LineReader &lines);

// What pass two finds, in document order. Objects are complete JSON objects, ready to parse.
class DocumentHandler {
public:
	virtual ~DocumentHandler() = default;
	// {"format": ..., "format_version": ..., "backup": {...}}
	virtual void header(const std::string &object) = 0;
	// {"schema": ..., "name": ..., "tenant_column": ..., "columns": [...]}
	virtual void table(const std::string &object) = 0;
	// One row's object, as written by row_to_json.
	virtual void row(const std::string &object) = 0;
	// After the table's last row; `rows` rows were passed to row() and the document agrees.
	virtual void table_end(uint64_t rows) = 0;
};

// Pass two: walks a document that check_document accepted, checking its framing and each
// table's row count. Throws Corrupt, naming the line, for a layout that is not ours.
void read_document(LineReader &lines, DocumentHandler &handler);

} // namespace tb::document
