// Foreign keys as the catalog describes them: columns quoted in key order and each column's
// equality operator as the constraint's own triggers use it (never one the search path supplies).
// Used by the restore's checks and by the ownership paths of tables without a tenant column.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <functional>
#include <string>
#include <vector>

namespace tb::pg {

struct ForeignKey {
	Oid oid, child, parent;
	std::string name, child_name, parent_name; // constraint; regclass text of both tables
	char child_kind, parent_kind;
	std::vector<std::string> child_cols, parent_cols; // quoted, in key order
	std::vector<std::string> parent_raw, child_raw;   // unquoted column names
	std::vector<std::string> equals; // per key column: the constraint's own equality, OPERATOR(schema.name)
};

// The equality built-in types compare with: never one that the search path could supply.
inline const char *const kEq = " OPERATOR(pg_catalog.=) ";

// "ONLY name", or "name" for a partitioned table (whose rows are in its partitions).
std::string scan_of(char relkind, const std::string &name);

// fn(0) sep fn(1) sep ... for each item.
std::string join_each(const std::vector<std::string> &items, const std::string &sep,
                      const std::function<std::string(size_t)> &fn);

// Foreign keys (top-level constraints only: partitions inherit theirs) matching `where`, an SQL
// condition on pg_constraint c. Refuses a key compared through a cast of a role that is not a
// superuser, since checking it would run that role's code. Needs SPI connected.
std::vector<ForeignKey> load_foreign_keys(const std::string &where);

// "pa.a = ch.x AND pa.b = ch.y" with the constraint's own equality operators.
std::string key_match(const ForeignKey &fk, const std::string &parent_alias, const std::string &child_alias,
                      const std::vector<std::string> &child_cols);

} // namespace tb::pg
