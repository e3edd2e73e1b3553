// The tables a backup contains, as tenant_backup.backup_tables() lists them, with their columns.
#pragma once
#include "core/archive/format.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"

#include <string>
#include <vector>

namespace tb::pg {

struct ColumnInfo {
	std::string name;
	std::string type; // format_type()
	Oid type_oid;
	int16 attnum = 0;
	bool not_null = false;
};

struct TenantTable {
	Oid relid = InvalidOid;
	std::string schema, name;
	char relkind = 'r';           // 'r' ordinary, 'p' partitioned
	std::string rows_found_by;    // "tenant column", "root" or "path" (catalog/ownership.hpp)
	std::string tenant_column;    // the column holding the tenant; empty for a path table
	Oid tenant_type = InvalidOid; // of the tenant value: the tenant column's, or the path's last table's
	bool has_index = false;
	std::vector<ColumnInfo> columns; // stored columns (generated columns are recomputed, not stored)
	// Its primary key and unique keys (valid, not partial, on stored columns: the unique indexes
	// whose rows a copy of the table can be held to), recorded in archives with the NOT NULL
	// columns (archive::TableConstraints).
	archive::TableKey primary_key;
	std::vector<archive::TableKey> unique_keys;
	// A path table: the foreign keys from it to a table with the tenant column, and that column.
	std::vector<ForeignKey> path;
	std::vector<archive::PathStep> steps;
	std::string path_tenant_column;

	std::string display_name() const { return schema + "." + name; }
	bool is_path() const { return !path.empty(); }
	// The column whose type the tenant value takes: the tenant column, or the path's last one.
	const std::string &tenant_value_column() const { return is_path() ? path_tenant_column : tenant_column; }
	archive::TableHeader header() const;
	// " FROM [ONLY] table ch [JOIN the path's tables j1, j2, ...] WHERE <the tenant> = $1": the
	// tenant's rows, as alias ch, read by index probes along the path.
	std::string tenant_rows_sql() const;
	// The same FROM and JOINs without the WHERE, and the expression that holds the tenant there.
	std::string rows_with_tenant_sql() const;
	std::string tenant_expression() const;
	// "EXISTS (...)": the row `alias` of this path table reaches the tenant $1 through its path.
	std::string reaches_tenant_sql(const std::string &alias) const;
	// "SELECT <stored columns of ch>" + tenant_rows_sql()
	std::string select_sql() const;
	// DELETE of the tenant's rows (alias ch), "RETURNING " + returning if given; `only`, if given,
	// a further condition on ch (a row-aimed restore's selection).
	std::string delete_sql(const std::string &returning = "", const std::string &only = "") const;
};

// This database as archives record it ("<system identifier>/<database OID>"): a table's OID and
// its columns' attnums recorded in an archive name the same objects only here. Plain PostgreSQL
// calls.
std::string database_identity();

// The tables of a tenant's backup, parent-first (catalog/ownership.hpp), with their columns and
// paths. Needs SPI connected.
std::vector<TenantTable> load_tenant_tables();

// A table that backups leave out or read badly (tenant_backup.backup_table_gaps()).
struct TableGap {
	std::string table; // quoted schema.name
	std::string reason;
	bool left_out = true;         // false: included, but read badly (no index for its tenant rows)
	bool refuses_backups = false; // an ambiguous path: backups refuse rather than guess
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
