#include "pg/catalog/permissions.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/ownership.hpp"

#include <algorithm>
#include <map>

extern "C" {
#include "access/xlog.h"
}

namespace tb::pg {

std::string database_identity() {
	uint64 system = pg_eval([] { return GetSystemIdentifier(); });
	Oid database = pg_eval([] { return MyDatabaseId; });
	return std::to_string(system) + "/" + std::to_string(database);
}

archive::TableHeader TenantTable::header() const {
	archive::TableHeader h;
	h.schema = schema;
	h.name = name;
	h.tenant_column = tenant_column;
	h.path = steps;
	for (const auto &c : columns) {
		h.columns.push_back({c.name, c.type});
		h.attnums.push_back(c.attnum);
	}
	// Where the table is: a restore into this database finds it (and its columns) again by OID
	// and attnum when renamed since (column_mapping.hpp).
	h.database = database_identity();
	h.relid = relid;
	// What its rows are held to: backup_restore_into makes a table dropped since with it.
	archive::TableConstraints constraints;
	for (const auto &c : columns)
		if (c.not_null)
			constraints.not_null.push_back(c.name);
	constraints.primary_key = primary_key;
	constraints.unique_keys = unique_keys;
	h.constraints = std::move(constraints);
	return h;
}

std::vector<TenantTable> load_tenant_tables() {
	std::vector<TenantTable> tables;
	std::string oids;
	for (const OwnedTable &o : load_ownership()) {
		if (!o.in_backups())
			continue;
		TenantTable t;
		t.relid = o.relid;
		t.schema = o.schema;
		t.name = o.name;
		t.relkind = o.relkind;
		t.rows_found_by = o.rows_found_by;
		t.tenant_type = o.tenant_type;
		t.has_index = o.has_index;
		t.steps = o.steps;
		if (o.rows_found_by == "path") {
			t.path_tenant_column = o.tenant_column;
			std::string keys_of_path;
			for (Oid con : o.path_constraints)
				keys_of_path += (keys_of_path.empty() ? "" : ",") + std::to_string(con);
			std::vector<ForeignKey> keys =
			    load_foreign_keys("c.oid OPERATOR(pg_catalog.=) ANY ('{" + keys_of_path + "}'::pg_catalog.oid[])");
			for (Oid con : o.path_constraints)
				for (const auto &k : keys)
					if (k.oid == con) {
						t.steps[t.path.size()].columns = k.child_raw;
						t.steps[t.path.size()].referenced = k.parent_raw;
						t.path.push_back(k);
					}
		} else {
			t.tenant_column = o.tenant_column;
		}
		oids += (oids.empty() ? "" : ",") + std::to_string(o.relid);
		tables.push_back(std::move(t));
	}
	if (tables.empty())
		return tables;
	std::map<Oid, size_t> at;
	for (size_t i = 0; i < tables.size(); i++)
		at[tables[i].relid] = i;
	std::string sql = "SELECT a.attrelid::pg_catalog.text, a.attname::pg_catalog.text, "
	                  "  pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid::pg_catalog.text, "
	                  "  a.attnum::pg_catalog.text, a.attnotnull::pg_catalog.text "
	                  "FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) ANY ('{" +
	                  oids +
	                  "}'::pg_catalog.oid[]) AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped "
	                  "AND a.attgenerated OPERATOR(pg_catalog.=) '' ORDER BY a.attrelid, a.attnum";
	for (const auto &r : spi_query(sql.c_str(), {}, true))
		tables[at[static_cast<Oid>(std::stoul(*r[0]))]].columns.push_back(
		    {*r[1], *r[2], static_cast<Oid>(std::stoul(*r[3])), static_cast<int16>(std::stoi(*r[4])), *r[5] == "true"});
	// Their keys: unique indexes, valid, not partial, on plain columns (as backup_diff's choice of
	// a key takes them), key columns in order; the primary key first.
	std::string keys = "SELECT i.indrelid::pg_catalog.text, i.indexrelid::pg_catalog.text, "
	                   "i.indisprimary::pg_catalog.text, i.indnullsnotdistinct::pg_catalog.text, "
	                   "a.attname::pg_catalog.text FROM pg_catalog.pg_index i CROSS JOIN LATERAL "
	                   "pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord) "
	                   "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	                   "AND a.attnum OPERATOR(pg_catalog.=) k.attnum "
	                   "WHERE i.indrelid OPERATOR(pg_catalog.=) ANY ('{" +
	                   oids +
	                   "}'::pg_catalog.oid[]) AND i.indisunique AND i.indisvalid AND i.indexprs IS NULL "
	                   "AND i.indpred IS NULL AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts "
	                   "ORDER BY i.indrelid, i.indisprimary DESC, i.indexrelid, k.ord";
	auto key_rows = spi_query(keys.c_str(), {}, true);
	for (size_t start = 0; start < key_rows.size();) {
		size_t end = start;
		archive::TableKey key;
		while (end < key_rows.size() && *key_rows[end][1] == *key_rows[start][1])
			key.columns.push_back(*key_rows[end++][4]);
		key.nulls_not_distinct = *key_rows[start][3] == "true";
		TenantTable &t = tables[at[static_cast<Oid>(std::stoul(*key_rows[start][0]))]];
		bool stored = true; // a key on a generated column: its values are not in the archive
		for (const auto &name : key.columns)
			stored = stored && std::any_of(t.columns.begin(), t.columns.end(),
			                               [&](const ColumnInfo &c) { return c.name == name; });
		if (stored && *key_rows[start][2] == "true")
			t.primary_key = std::move(key);
		else if (stored)
			t.unique_keys.push_back(std::move(key));
		start = end;
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

std::string TenantTable::rows_with_tenant_sql() const {
	std::string sql = " FROM " + scan_of(relkind, quoted_name(schema, name)) + " ch";
	std::string child = "ch";
	for (size_t i = 0; i < path.size(); i++) {
		std::string alias = "j" + std::to_string(i + 1);
		sql += " JOIN " + scan_of(path[i].parent_kind, path[i].parent_name) + " " + alias + " ON " +
		       key_match(path[i], alias, child, path[i].child_cols);
		child = alias;
	}
	return sql;
}

std::string TenantTable::tenant_expression() const {
	if (!is_path())
		return "ch." + quoted_ident(tenant_column);
	return "j" + std::to_string(path.size()) + "." + quoted_ident(path_tenant_column);
}

std::string TenantTable::reaches_tenant_sql(const std::string &alias) const {
	std::string from, where, child = alias;
	for (size_t i = 0; i < path.size(); i++) {
		std::string step = alias + "_" + std::to_string(i + 1);
		from += (i ? ", " : "") + scan_of(path[i].parent_kind, path[i].parent_name) + " " + step;
		where += key_match(path[i], step, child, path[i].child_cols) + " AND ";
		child = step;
	}
	return "EXISTS (SELECT 1 FROM " + from + " WHERE " + where + child + "." + quoted_ident(path_tenant_column) + kEq +
	       "$1)";
}

std::string TenantTable::tenant_rows_sql() const {
	return rows_with_tenant_sql() + " WHERE " + tenant_expression() + kEq + "$1";
}

std::string TenantTable::select_sql() const {
	// ONLY: an inheritance child with the tenant column is a tenant table of its own.
	return "SELECT " +
	       join_each(std::vector<std::string>(columns.size()), ", ",
	                 [&](size_t i) { return "ch." + quoted_ident(columns[i].name); }) +
	       tenant_rows_sql();
}

std::string TenantTable::delete_sql(const std::string &returning, const std::string &only) const {
	std::string target = "DELETE FROM " + scan_of(relkind, quoted_name(schema, name)) + " ch";
	std::string tail =
	    (only.empty() ? "" : " AND (" + only + ")") + (returning.empty() ? "" : " RETURNING " + returning);
	if (!is_path())
		return target + " WHERE ch." + quoted_ident(tenant_column) + kEq + "$1" + tail;
	std::string using_list, where, child = "ch";
	for (size_t i = 0; i < path.size(); i++) {
		std::string alias = "j" + std::to_string(i + 1);
		using_list += (i ? ", " : "") + scan_of(path[i].parent_kind, path[i].parent_name) + " " + alias;
		where += key_match(path[i], alias, child, path[i].child_cols) + " AND ";
		child = alias;
	}
	return target + " USING " + using_list + " WHERE " + where + child + "." + quoted_ident(path_tenant_column) + kEq +
	       "$1" + tail;
}

std::vector<TableGap> load_table_gaps() {
	AsExtensionOwner owner; // the catalog is the extension's own
	std::vector<TableGap> gaps;
	for (const auto &row : spi_query("SELECT table_name::oid::text, n.nspname::text, c.relname::text, reason, "
	                                 "  left_out::pg_catalog.text, refuses_backups::pg_catalog.text "
	                                 "FROM tenant_backup.backup_table_gaps() g "
	                                 "JOIN pg_catalog.pg_class c ON c.oid = g.table_name "
	                                 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
	                                 {}, true))
		gaps.push_back({quoted_name(*row[1], *row[2]), *row[3], *row[4] == "true", *row[5] == "true"});
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
