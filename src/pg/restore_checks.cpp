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

} // namespace

void advance_sequences(const RestoredTable &table) {
	Oid relid = table.plan.relid;
	uint64 rows = pg_eval([relid] {
		return spi_run_oid("SELECT s.oid, quote_ident(sn.nspname) || '.' || quote_ident(s.relname), "
		                   "       quote_ident(a.attname) "
		                   "FROM pg_catalog.pg_depend d "
		                   "JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
		                   "JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace "
		                   "JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
		                   "WHERE d.classid = 'pg_catalog.pg_class'::regclass "
		                   "  AND d.refclassid = 'pg_catalog.pg_class'::regclass "
		                   "  AND d.refobjid = $1 AND d.deptype IN ('a', 'i')",
		                   relid, true, SPI_OK_SELECT);
	});
	struct Owned {
		Oid seq;
		std::string seq_name, column; // quoted identifiers
	};
	std::vector<Owned> owned;
	for (uint64 r = 0; r < rows; r++) {
		Oid seq = InvalidOid;
		char *name = nullptr, *col = nullptr;
		pg_call([&] {
			bool isnull;
			seq = DatumGetObjectId(spi_datum(r, 1, &isnull));
			name = spi_text(r, 2);
			col = spi_text(r, 3);
		});
		owned.push_back({seq, name, col});
	}
	for (const auto &o : owned) {
		// A sequence that has not been used yet hands out last_value itself next: it must then
		// be moved when the tenant already has that value. The sequence is a parameter where a
		// value is needed and a quoted identifier where a relation is.
		std::string sql = "SELECT pg_catalog.setval($2, m.v) FROM (SELECT max(" + o.column + ")::bigint AS v FROM " +
		                  from_clause(table.plan.relkind, table.plan.qualified) + " WHERE " + table.plan.tenant_column +
		                  " = $1) m, " + o.seq_name +
		                  " q WHERE m.v IS NOT NULL AND (m.v > q.last_value OR (NOT q.is_called AND m.v >= "
		                  "q.last_value))";
		const char *q = sql.c_str();
		Oid tenant_type = table.plan.tenant_type, seq = o.seq;
		Datum tenant = table.tenant;
		pg_call([=] {
			Oid types[2] = {tenant_type, REGCLASSOID};
			Datum values[2] = {tenant, ObjectIdGetDatum(seq)};
			spi_run(q, 2, types, values, nullptr, false, SPI_OK_SELECT);
		});
	}
}

} // namespace tb::pg
