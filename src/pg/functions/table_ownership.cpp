// tenant_backup._ownership(): every table that holds, is referenced by, or would hold tenant rows,
// and how (catalog/ownership.hpp); backup_tables() and backup_table_gaps() read it.
// tenant_backup.backup_unowned_rows(): rows of path tables whose path reaches no tenant.
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/srf_rows.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/ownership.hpp"
#include "pg/catalog/tenant_tables.hpp"

using namespace tb::pg;

TB_SQL_FUNCTION(tenant_backup_ownership) {
	spi_begin();
	std::vector<OwnedTable> tables = load_ownership();
	SrfRows rows(fcinfo);
	for (const auto &t : tables) {
		SqlValue none;
		bool has_column = !t.tenant_column.empty() && t.rows_found_by != "path"; // a path table has none
		rows.add({std::to_string(t.relid), t.rows_found_by.empty() ? none : SqlValue(t.rows_found_by),
		          has_column ? SqlValue(t.tenant_column) : none,
		          t.tenant_type != InvalidOid ? SqlValue(std::to_string(t.tenant_type)) : none,
		          t.rows_found_by == "shared" || t.rows_found_by.empty() ? none : SqlValue(t.has_index ? "t" : "f"),
		          t.source.empty() ? none : SqlValue(t.source), t.path.empty() ? none : SqlValue(t.path),
		          std::to_string(t.depth), t.gap.empty() ? none : SqlValue(t.gap), SqlValue(t.ambiguous ? "t" : "f")});
	}
	spi_end();
	return 0;
}

TB_SQL_FUNCTION(tenant_backup_unowned_rows) {
	spi_begin();
	std::vector<TenantTable> tables = load_tenant_tables();
	std::vector<std::pair<const TenantTable *, std::string>> counts;
	for (const auto &t : tables) {
		if (!t.is_path())
			continue;
		// Every row, less those whose path reaches some tenant (any value of the last column).
		std::string reached = t.rows_with_tenant_sql() + " WHERE " + t.tenant_expression() + " IS NOT NULL";
		std::string sql = "SELECT (SELECT pg_catalog.count(*) FROM " +
		                  scan_of(t.relkind, quoted_name(t.schema, t.name)) +
		                  ") OPERATOR(pg_catalog.-) (SELECT pg_catalog.count(*)" + reached + ")";
		counts.push_back({&t, *spi_query(sql.c_str(), {}, true)[0][0]});
	}
	std::vector<OwnedTable> owned = load_ownership();
	SrfRows rows(fcinfo);
	for (const auto &[t, n] : counts) {
		std::string path;
		for (const auto &o : owned)
			if (o.relid == t->relid)
				path = o.path;
		rows.add({std::to_string(t->relid), path, n});
	}
	spi_end();
	return 0;
}
