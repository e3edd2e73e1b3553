// Small SPI helpers for the PostgreSQL layer. They raise PostgreSQL errors (call them inside
// pg_call) and take their SQL as constants or as text built with quote_identifier.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

// Runs sql with parameters; fails unless SPI returns expected_rc. Returns SPI_processed.
// max_rows > 0 stops after that many rows; the plan is still made for reading every row.
uint64 spi_run(const char *sql, int nargs, const Oid *types, const Datum *values, const char *nulls, bool read_only,
               int expected_rc, long max_rows = 0);
// spi_run with one oid parameter, $1.
uint64 spi_run_oid(const char *sql, Oid arg, bool read_only, int expected_rc);
// spi_run with one text parameter, $1.
uint64 spi_run_text(const char *sql, const char *arg, bool read_only, int expected_rc);
// Column `col` (1-based) of row `row` of the last result, as a C string in the current context, or NULL.
char *spi_text(uint64 row, int col);
// Same as a Datum of the column's own type; *isnull tells NULLs.
Datum spi_datum(uint64 row, int col, bool *isnull);

using SqlValue = std::optional<std::string>; // NULL is nullopt
using SqlRow = std::vector<SqlValue>;

// Runs one statement with text parameters ($1::bigint casts them) and returns every row as text.
// C++ callers use it outside pg_call; it raises PgError like pg_call does.
std::vector<SqlRow> spi_query(const char *sql, const std::vector<SqlValue> &params = {}, bool read_only = false);

} // namespace tb::pg
