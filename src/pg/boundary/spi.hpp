// SPI for the PostgreSQL layer: one way to run a statement with parameters. SQL comes as
// constants or as text built with quote_identifier; every value reaches it as a parameter, $1,
// $2, ... in the order it was added to SqlParams, each with its type.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

using SqlValue = std::optional<std::string>; // NULL is nullopt
using SqlRow = std::vector<SqlValue>;

// The parameters of one statement. Built in C++, outside pg_call (it owns strings); the
// statement functions turn it into SPI's arrays. A braced list of strings is a list of text
// parameters: spi_query("... WHERE id = $1::bigint AND name = $2", {std::to_string(id), name}).
class SqlParams {
public:
	SqlParams() = default;
	static const SqlParams &none(); // for statements without parameters, also inside pg_call
	SqlParams(std::initializer_list<SqlValue> texts);
	SqlParams(const std::vector<SqlValue> &texts);

	SqlParams &text(const SqlValue &value);    // text; NULL for nullopt
	SqlParams &int8(int64 value);              // bigint
	SqlParams &int4(int32 value);              // integer
	SqlParams &oid(Oid value);                 // oid
	SqlParams &boolean(bool value);            // boolean
	SqlParams &timestamptz(TimestampTz value); // timestamp with time zone
	SqlParams &datum(Oid type, Datum value);   // a value PostgreSQL made (a tenant value, a bytea)
	SqlParams &null(Oid type);                 // NULL of that type
	int size() const { return static_cast<int>(params_.size()); }

private:
	friend struct SpiArgs;
	struct Param {
		Oid type;
		Datum value;   // unless text
		SqlValue text; // for text parameters
		bool isnull;
		bool is_text;
	};
	std::vector<Param> params_;
};

// Runs sql with params; fails unless SPI returns expected_rc. Returns SPI_processed, the rows in
// SPI_tuptable (spi_text, spi_datum). max_rows > 0 stops after that many rows; the plan is still
// made for reading every row. Raises PostgreSQL errors: call it inside pg_call.
uint64 spi_run(const char *sql, const SqlParams &params, bool read_only, int expected_rc, long max_rows = 0);
// Runs a SELECT of one parameter ($1, of `type`) with its rows going to `dest` (a DestReceiver of
// ours, not SPI's); read_only: under the active snapshot. Plain PostgreSQL calls (inside pg_call).
void spi_select_into(const char *sql, Oid type, Datum value, DestReceiver *dest, bool read_only);
// Column `col` (1-based) of row `row` of the last result, as a C string in the current context, or NULL.
char *spi_text(uint64 row, int col);
// Same as a Datum of the column's own type; *isnull tells NULLs.
Datum spi_datum(uint64 row, int col, bool *isnull);

// Runs one statement and returns every row as text. C++ callers use it outside pg_call; it
// raises PgError like pg_call does.
std::vector<SqlRow> spi_query(const char *sql, const SqlParams &params = {}, bool read_only = false);
// The same for a statement put together from constant parts (never from user input: that goes in
// params).
inline std::vector<SqlRow> spi_query(const std::string &sql, const SqlParams &params = {}, bool read_only = false) {
	return spi_query(sql.c_str(), params, read_only);
}

// From now on spi_query keeps each statement's plan for the process's later executions (a job
// worker runs the same few dozen statements for every tenant): parsed once, planned as
// PostgreSQL's plan cache decides (custom plans with the values, or a generic plan once it costs
// no more), and planned again after DDL on what they read. Plain C++; no PostgreSQL call.
void keep_query_plans();

// An array literal of the values (NULL for nullopt), for passing a list as one parameter
// ($1::text[], $1::bigint[]): read once by unnest in FROM, not per row.
std::string text_array_literal(const std::vector<SqlValue> &values);

} // namespace tb::pg
