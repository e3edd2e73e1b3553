// Text documents returned as rows of text by set-returning functions (download, CSV export):
// each row is one line, without its line break. Rows go to the function's tuplestore, which
// spills to a temporary file beyond work_mem, so a document of any size takes bounded memory.
#pragma once
#include "core/stream/sha256.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <string>
#include <vector>

namespace tb::pg {

class TextLines {
public:
	// Sets the function up to return SETOF text (materialize mode).
	explicit TextLines(FunctionCallInfo fcinfo);
	// Emits one line (a NUL-terminated string in PostgreSQL memory). When hashing, the line and a
	// following "\n" are added to the document's SHA-256.
	void put(const char *line);
	void put(const std::string &line) { put(line.c_str()); }
	void hash_lines(bool on) { hashing_ = on; }
	// Lowercase hex SHA-256 of the lines hashed so far; no line may be hashed afterwards.
	std::string hex_digest() { return hash_.hex_digest(); }

private:
	FunctionCallInfo fcinfo_;
	Sha256 hash_;
	bool hashing_ = false;
};

// The value as a CSV field (RFC 4180, as COPY ... (FORMAT csv) writes it): quoted when it holds
// a comma, a double quote, CR or LF, or is empty (an unquoted empty field is NULL), or starts
// with "\." (which COPY FROM would take for the end-of-data marker). Appends to buf.
void append_csv_field(StringInfo buf, const char *value);

// A CSV line from a row: NULLs as empty fields, other values by their type's output function.
// `output` holds one output function per column. Returns palloc'd text in the current context.
char *csv_line(const FmgrInfo *output, int columns, const Datum *values, const bool *nulls);

// Each type's output function, for csv_line.
std::vector<FmgrInfo> output_functions(const std::vector<Oid> &types);

// The header line of column names.
char *csv_header(const std::vector<std::string> &names);

} // namespace tb::pg
