#include "pg/catalog/permissions.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"

namespace tb::pg {

archive::TableHeader TenantTable::header() const {
	archive::TableHeader h{schema, name, tenant_column, {}};
	for (const auto &c : columns)
		h.columns.push_back({c.name, c.type});
	return h;
}

std::vector<TenantTable> load_tenant_tables() {
	AsExtensionOwner owner; // the catalog is the extension's own
	static const char *sql = "SELECT t.table_name::oid, n.nspname::text, c.relname::text, c.relkind::text, "
	                         "       t.tenant_column::text, t.tenant_type::oid, t.has_index, "
	                         "       a.attname::text, format_type(a.atttypid, a.atttypmod), a.atttypid "
	                         "FROM tenant_backup.backup_tables() t "
	                         "JOIN pg_catalog.pg_class c ON c.oid = t.table_name "
	                         "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	                         "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
	                         "     AND NOT a.attisdropped AND a.attgenerated = '' "
	                         "ORDER BY n.nspname, c.relname, a.attnum";
	uint64 rows = pg_eval([] { return spi_run(sql, SqlParams::none(), true, SPI_OK_SELECT); });
	std::vector<TenantTable> tables;
	for (uint64 r = 0; r < rows; r++) {
		struct {
			Oid relid, tenant_type, type_oid;
			char *schema, *name, *relkind, *tenant_column, *has_index, *attname, *atttype;
		} raw;
		pg_call([&] {
			bool isnull;
			raw.relid = DatumGetObjectId(spi_datum(r, 1, &isnull));
			raw.schema = spi_text(r, 2);
			raw.name = spi_text(r, 3);
			raw.relkind = spi_text(r, 4);
			raw.tenant_column = spi_text(r, 5);
			raw.tenant_type = DatumGetObjectId(spi_datum(r, 6, &isnull));
			raw.has_index = spi_text(r, 7);
			raw.attname = spi_text(r, 8);
			raw.atttype = spi_text(r, 9);
			raw.type_oid = DatumGetObjectId(spi_datum(r, 10, &isnull));
		});
		if (tables.empty() || tables.back().relid != raw.relid) {
			TenantTable t;
			t.relid = raw.relid;
			t.schema = raw.schema;
			t.name = raw.name;
			t.relkind = raw.relkind[0];
			t.tenant_column = raw.tenant_column;
			t.tenant_type = raw.tenant_type;
			t.has_index = raw.has_index[0] == 't';
			tables.push_back(std::move(t));
		}
		tables.back().columns.push_back({raw.attname, raw.atttype, raw.type_oid});
	}
	return tables;
}

void check_tenant_type(Oid type, const std::string &column, const std::string &table) {
	if (!supported_tenant_type(type))
		throw SqlError(ERRCODE_DATATYPE_MISMATCH,
		               "tenant column \"" + column + "\" of table " + table + " has an unsupported type",
		               "A tenant column must be smallint, integer, bigint, text, varchar or uuid.",
		               "Exclude the table with tenant_backup.backup_exclude_table(), or register another column.");
}

std::string TenantTable::select_sql() const {
	std::string list;
	for (const auto &c : columns)
		list += (list.empty() ? "" : ", ") + quoted_ident(c.name);
	// ONLY: an inheritance child with the tenant column is a tenant table of its own.
	return "SELECT " + list + " FROM " + (relkind == 'p' ? "" : "ONLY ") + quoted_name(schema, name) + " WHERE " +
	       quoted_ident(tenant_column) + " OPERATOR(pg_catalog.=) $1";
}

std::vector<TableGap> load_table_gaps() {
	AsExtensionOwner owner; // the catalog is the extension's own
	// This library beside 0.1.0's SQL objects (a package upgraded, ALTER EXTENSION not yet run)
	// would back up the tables 0.1.0's rules chose: refuse, and say what to do.
	if (*spi_query("SELECT pg_catalog.to_regprocedure('tenant_backup.backup_table_gaps()') IS NOT NULL")[0][0] == "f")
		throw SqlError(
		    ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "tenant_backup's SQL objects are older than its library",
		    "The library was upgraded but the extension was not.", "Run ALTER EXTENSION tenant_backup UPDATE.");
	std::vector<TableGap> gaps;
	for (const auto &row : spi_query("SELECT table_name::oid::text, n.nspname::text, c.relname::text, reason "
	                                 "FROM tenant_backup.backup_table_gaps() g "
	                                 "JOIN pg_catalog.pg_class c ON c.oid = g.table_name "
	                                 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
	                                 {}, true))
		gaps.push_back({quoted_name(*row[1], *row[2]), *row[3]});
	return gaps;
}

std::string quoted_ident(const std::string &ident) {
	const char *s = ident.c_str();
	return pg_eval([s] { return quote_identifier(s); });
}

std::string quoted_name(const std::string &schema, const std::string &name) {
	return quoted_ident(schema) + "." + quoted_ident(name);
}

} // namespace tb::pg
