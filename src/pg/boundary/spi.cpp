#include "pg/boundary/spi.hpp"

#include "pg/boundary/guard.hpp"

namespace tb::pg {

uint64 spi_run(const char *sql, int nargs, const Oid *types, const Datum *values, const char *nulls, bool read_only,
               int expected_rc, long max_rows) {
	SPIPlanPtr plan = SPI_prepare(sql, nargs, const_cast<Oid *>(types));
	if (!plan)
		elog(ERROR, "tenant_backup: could not prepare internal query (%s): %s", SPI_result_code_string(SPI_result),
		     sql);
	// Defence in depth: an internal query is exactly one statement, whatever got into its text.
	if (list_length(SPI_plan_get_plan_sources(plan)) != 1)
		elog(ERROR, "tenant_backup: internal query is not a single statement: %s", sql);
	int rc = SPI_execute_plan(plan, const_cast<Datum *>(values), nulls, read_only, max_rows);
	if (rc != expected_rc)
		elog(ERROR, "tenant_backup: internal query failed (%s): %s", SPI_result_code_string(rc), sql);
	uint64 processed = SPI_processed;
	SPI_freeplan(plan);
	return processed;
}

uint64 spi_run_oid(const char *sql, Oid arg, bool read_only, int expected_rc) {
	Oid types[1] = {OIDOID};
	Datum values[1] = {ObjectIdGetDatum(arg)};
	return spi_run(sql, 1, types, values, nullptr, read_only, expected_rc);
}

uint64 spi_run_text(const char *sql, const char *arg, bool read_only, int expected_rc) {
	Oid types[1] = {TEXTOID};
	Datum values[1] = {CStringGetTextDatum(arg)};
	return spi_run(sql, 1, types, values, nullptr, read_only, expected_rc);
}

char *spi_text(uint64 row, int col) {
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

Datum spi_datum(uint64 row, int col, bool *isnull) {
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

std::vector<SqlRow> spi_query(const char *sql, const std::vector<SqlValue> &params, bool read_only) {
	int n = static_cast<int>(params.size());
	std::vector<const char *> args(params.size());
	std::string nulls(params.size(), ' ');
	for (int i = 0; i < n; i++) {
		args[i] = params[i] ? params[i]->c_str() : nullptr;
		nulls[i] = params[i] ? ' ' : 'n';
	}
	// Results are copied out as palloc'd strings first: no C++ allocation while PostgreSQL runs.
	struct {
		uint64 rows;
		int cols;
		char **cells;
	} raw{};
	pg_call([&] {
		Oid *types = static_cast<Oid *>(palloc(sizeof(Oid) * (n + 1)));
		Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
		for (int i = 0; i < n; i++) {
			types[i] = TEXTOID;
			values[i] = args[i] ? CStringGetTextDatum(args[i]) : 0;
		}
		int rc = SPI_execute_with_args(sql, n, types, values, nulls.c_str(), read_only, 0);
		if (rc < 0)
			elog(ERROR, "tenant_backup: internal query failed (%s): %s", SPI_result_code_string(rc), sql);
		raw.rows = SPI_tuptable ? SPI_processed : 0;
		raw.cols = SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0;
		raw.cells = static_cast<char **>(palloc0(sizeof(char *) * (raw.rows * raw.cols + 1)));
		for (uint64 r = 0; r < raw.rows; r++)
			for (int c = 0; c < raw.cols; c++)
				raw.cells[r * raw.cols + c] = spi_text(r, c + 1);
	});
	std::vector<SqlRow> out(raw.rows, SqlRow(raw.cols));
	for (uint64 r = 0; r < raw.rows; r++)
		for (int c = 0; c < raw.cols; c++)
			if (char *cell = raw.cells[r * raw.cols + c])
				out[r][c] = std::string(cell);
	return out;
}

} // namespace tb::pg
