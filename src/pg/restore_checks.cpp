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

void check_foreign_keys(const std::vector<RestoredTable> &tables, int64 backup_id) {
	if (tables.empty())
		return;
	std::string oids;
	for (const auto &t : tables)
		oids += (oids.empty() ? "" : ",") + std::to_string(t.plan.relid);
	// Each row: constraint, child oid, child relkind, child name, "child columns are NOT NULL"
	// condition, parent relkind, parent name, join condition.
	std::string sql =
	    "SELECT c.conname::text, c.conrelid, ch.relkind::text, c.conrelid::regclass::text, "
	    "  (SELECT string_agg(format('ch.%I IS NOT NULL', a.attname), ' AND ') "
	    "     FROM unnest(c.conkey) k JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k), "
	    "  pa.relkind::text, c.confrelid::regclass::text, "
	    "  (SELECT string_agg(format('pa.%I = ch.%I', p.attname, a.attname), ' AND ') "
	    "     FROM unnest(c.conkey, c.confkey) k(ck, pk) "
	    "     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.ck "
	    "     JOIN pg_catalog.pg_attribute p ON p.attrelid = c.confrelid AND p.attnum = k.pk) "
	    "FROM pg_catalog.pg_constraint c "
	    "JOIN pg_catalog.pg_class ch ON ch.oid = c.conrelid "
	    "JOIN pg_catalog.pg_class pa ON pa.oid = c.confrelid "
	    "WHERE c.contype = 'f' AND c.conparentid = 0 "
	    "  AND (c.conrelid IN (" + oids + ") OR c.confrelid IN (" + oids + ")) "
	    "ORDER BY c.conname";
	const char *q = sql.c_str();
	uint64 rows = pg_eval([q] { return spi_run(q, 0, nullptr, nullptr, nullptr, true, SPI_OK_SELECT); });
	struct Fk {
		std::string name, child_kind, child, not_null, parent_kind, parent, join;
		Oid child_oid;
	};
	std::vector<Fk> fks;
	for (uint64 r = 0; r < rows; r++) {
		char *f[8];
		Oid child_oid = InvalidOid;
		pg_call([&] {
			bool isnull;
			for (int i = 0; i < 8; i++)
				f[i] = i == 1 ? nullptr : spi_text(r, i + 1);
			child_oid = DatumGetObjectId(spi_datum(r, 2, &isnull));
		});
		fks.push_back({f[0], f[2], f[3], f[4], f[5], f[6], f[7], child_oid});
	}
	for (const auto &fk : fks) {
		const RestoredTable *child = nullptr;
		for (const auto &t : tables)
			if (t.plan.relid == fk.child_oid)
				child = &t;
		std::string check = "SELECT 1 FROM " + from_clause(fk.child_kind[0], fk.child) + " ch WHERE " +
		                    (child ? "ch." + child->plan.tenant_column + " = $1 AND " : std::string()) +
		                    fk.not_null + " AND NOT EXISTS (SELECT 1 FROM " + from_clause(fk.parent_kind[0], fk.parent) +
		                    " pa WHERE " + fk.join + ") LIMIT 1";
		// read_only = false: the check must see the rows this transaction just loaded.
		bool broken = child ? tenant_query_has_row(check, child->plan.tenant_type, child->tenant, false)
		                    : tenant_query_has_row(check, InvalidOid, 0, false);
		if (broken)
			throw SqlError(ERRCODE_FOREIGN_KEY_VIOLATION,
			               "restoring backup " + std::to_string(backup_id) + " would violate foreign key constraint \"" +
			                   fk.name + "\" on table " + fk.child,
			               "Rows of " + fk.child + " would reference rows of " + fk.parent +
			                   " that do not exist after the restore. Nothing was restored.",
			               "Tables that reference tenant tables should be tenant tables themselves, so that they "
			               "are backed up and restored together.");
	}
}

} // namespace tb::pg
