#include "pg/spi.hpp"

namespace tb::pg {

uint64 spi_run(const char *sql, int nargs, const Oid *types, const Datum *values, const char *nulls, bool read_only,
               int expected_rc) {
	int rc =
	    SPI_execute_with_args(sql, nargs, const_cast<Oid *>(types), const_cast<Datum *>(values), nulls, read_only, 0);
	if (rc != expected_rc)
		elog(ERROR, "tenant_backup: internal query failed (%s): %s", SPI_result_code_string(rc), sql);
	return SPI_processed;
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
