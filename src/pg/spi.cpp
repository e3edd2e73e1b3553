#include "pg/spi.hpp"

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

} // namespace tb::pg
