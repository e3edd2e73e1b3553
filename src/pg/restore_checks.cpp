#include "pg/restore_checks.hpp"

#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "pg/tenant_tables.hpp"

#include <string>

namespace tb::pg {

namespace {

std::string from_clause(char relkind, const std::string &qualified) {
	return (relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ") + qualified;
}

// Runs a query with the tenant as $1 and returns whether it produced a row.
bool tenant_query_has_row(const std::string &sql, Oid tenant_type, Datum tenant, bool read_only) {
	const char *q = sql.c_str();
	return pg_eval([=] {
		Oid types[1] = {tenant_type};
		Datum values[1] = {tenant};
		return spi_run(q, tenant_type == InvalidOid ? 0 : 1, types, values, nullptr, read_only, SPI_OK_SELECT) > 0;
	});
}

} // namespace

void advance_sequences(const RestoredTable &table) {
	Oid relid = table.plan.relid;
	uint64 rows = pg_eval([relid] {
		Oid types[1] = {OIDOID};
		Datum values[1] = {ObjectIdGetDatum(relid)};
		return spi_run("SELECT quote_ident(sn.nspname) || '.' || quote_ident(s.relname), quote_ident(a.attname) "
		               "FROM pg_catalog.pg_depend d "
		               "JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
		               "JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace "
		               "JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
		               "WHERE d.classid = 'pg_catalog.pg_class'::regclass "
		               "  AND d.refclassid = 'pg_catalog.pg_class'::regclass "
		               "  AND d.refobjid = $1 AND d.deptype IN ('a', 'i')",
		               1, types, values, nullptr, true, SPI_OK_SELECT);
	});
	std::vector<std::pair<std::string, std::string>> owned;
	for (uint64 r = 0; r < rows; r++) {
		char *seq = nullptr, *col = nullptr;
		pg_call([&] {
			seq = spi_text(r, 1);
			col = spi_text(r, 2);
		});
		owned.emplace_back(seq, col);
	}
	for (const auto &[seq, col] : owned) {
		// A sequence that has not been used yet hands out last_value itself next: it must then
		// be moved when the tenant already has that value.
		std::string sql = "SELECT pg_catalog.setval('" + seq + "', m.v) FROM (SELECT max(" + col +
		                  ")::bigint AS v FROM " + from_clause(table.plan.relkind, table.plan.qualified) + " WHERE " +
		                  table.plan.tenant_column + " = $1) m, " + seq +
		                  " q WHERE m.v IS NOT NULL AND (m.v > q.last_value OR (NOT q.is_called AND m.v >= "
		                  "q.last_value))";
		tenant_query_has_row(sql, table.plan.tenant_type, table.tenant, false);
	}
}

} // namespace tb::pg
