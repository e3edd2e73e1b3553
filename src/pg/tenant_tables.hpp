// The tables a backup contains, as tenant_backup.backup_tables() lists them, with their columns.
#pragma once
#include "core/archive/format.hpp"
#include "pg/pg_headers.hpp"

#include <string>
#include <vector>

namespace tb::pg {

struct ColumnInfo {
	std::string name;
	std::string type; // format_type()
	Oid type_oid;
};

struct TenantTable {
	Oid relid = InvalidOid;
	std::string schema, name;
	char relkind = 'r'; // 'r' ordinary, 'p' partitioned
	std::string tenant_column;
	Oid tenant_type = InvalidOid;
	bool has_index = false;
	std::vector<ColumnInfo> columns; // stored columns (generated columns are recomputed, not stored)

	std::string display_name() const { return schema + "." + name; }
	archive::TableHeader header() const;
	// "SELECT <stored columns> FROM [ONLY] table WHERE <tenant column> OPERATOR(pg_catalog.=) $1"
	std::string select_sql() const;
};

// Reads tenant_backup.backup_tables() (needs SPI connected).
std::vector<TenantTable> load_tenant_tables();

// A table with the tenant column that backups leave out (tenant_backup.backup_table_gaps()).
struct TableGap {
	std::string table; // quoted schema.name
	std::string reason;
};
std::vector<TableGap> load_table_gaps();


// Throws a clear error unless type is one a tenant column may have.
void check_tenant_type(Oid type, const std::string &column, const std::string &table);

// Converts the tenant value to the type of a tenant column, with a clear error if it does not cast.
Datum tenant_datum(const std::string &tenant, Oid type, const std::string &column, const std::string &table);

// The tenant value as each table's tenant column type (tenant_datum), checking each type.
std::vector<Datum> tenant_values(const std::string &tenant, const std::vector<TenantTable> &tables);

// The tenant value as the tenant columns' type prints it (' 1' -> '1', upper-case uuid -> lower
// case) when every tenant table has the same tenant column type; otherwise the value as given.
std::string canonical_tenant(const std::string &tenant, const std::vector<TenantTable> &tables,
                             const std::vector<Datum> &values);

// The form backup_create stores a tenant value in (see canonical_tenant), for looking tenants up:
// the value as given when it does not cast to the tenant columns' type. Needs SPI connected.
std::string stored_tenant(const std::string &tenant);
// stored_tenant of many values, with one look-up of the tenant tables.
std::vector<std::string> stored_tenants(const std::vector<std::string> &tenants);

// quote_identifier()-quoted "schema.table".
std::string quoted_name(const std::string &schema, const std::string &name);
std::string quoted_ident(const std::string &ident);

} // namespace tb::pg
