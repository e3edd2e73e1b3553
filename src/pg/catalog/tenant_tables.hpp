// The tables a backup contains, as tenant_backup.backup_tables() lists them, with their columns.
#pragma once
#include "core/archive/format.hpp"
#include "pg/boundary/pg_headers.hpp"

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

// Tenant values (tenant_values.cpp). Only the supported types' built-in input and output
// functions are called: never a domain's, whose CHECK constraints would run with the caller's
// privileges.

// Whether a tenant column of this type is supported (check_tenant_type's list); domains are not.
bool supported_tenant_type(Oid type);

// Converts the tenant value to the type of a tenant column, with a clear error if it does not cast
// or the type is not supported (a domain included).
Datum tenant_datum(const std::string &tenant, Oid type, const std::string &column, const std::string &table);

// The tenant value as each table's tenant column type (tenant_datum), checking each type.
std::vector<Datum> tenant_values(const std::string &tenant, const std::vector<TenantTable> &tables);

// The one spelling a tenant is recorded under: the form in which every tenant column type prints
// the value alike (' 1' -> '1', upper-case uuid -> lower case). A value that two types print
// differently ('07': 7 as integer, '07' as text) is refused with an error naming both tables and
// the canonical spelling. `values` are tenant_values(tenant, tables).
std::string canonical_tenant(const std::string &tenant, const std::vector<TenantTable> &tables,
                             const std::vector<Datum> &values);

// The same rule for looking tenants up (grants, backup_list, forget, schedules): only the types
// that take the value count, and a value that none takes is kept as given. Refuses what
// canonical_tenant refuses. Needs SPI connected.
std::string stored_tenant(const std::string &tenant);
// The same for catalog look-ups that name no new tenant (backup_list, backup_revoke): a refused
// spelling is kept as given, so that rows recorded under it before 0.2.0 can still be found.
std::string lookup_tenant(const std::string &tenant);
// lookup_tenant of many values (discovery), with one look-up of the tenant tables: a refused
// value is kept as given, and a backup of it then fails with stored_tenant's error.
std::vector<std::string> stored_tenants(const std::vector<std::string> &tenants);

// Of the `recorded` spellings (e.g. the catalog's, some from before 0.2.0), those that are the
// same tenant as `tenant` (a canonical spelling) for some integer or uuid tenant column type:
// ' 7', '07' and '+7' for '7'. Includes `tenant` itself if recorded. Needs SPI connected.
std::vector<std::string> tenant_spellings(const std::string &tenant, const std::vector<std::string> &recorded);

// quote_identifier()-quoted "schema.table".
std::string quoted_name(const std::string &schema, const std::string &name);
std::string quoted_ident(const std::string &ident);

} // namespace tb::pg
