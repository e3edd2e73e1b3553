#include "pg/catalog/ownership.hpp"

#include "core/ownership/ownership_paths.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/catalog/permissions.hpp"

extern "C" {
#include "utils/inval.h"
#include "utils/syscache.h"
}

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace tb::pg {

namespace {

Oid oid_of(const SqlValue &v) {
	return static_cast<Oid>(std::stoul(*v));
}

struct GraphEdge {
	std::string constraint;
	Oid oid, child, parent;
	SqlValue child_column, parent_column, parent_column_type;
	bool indexed, unsafe_cast;
};

} // namespace

static std::vector<OwnedTable> read_ownership() {
	AsExtensionOwner owner; // the catalog is the extension's own
	// This library beside 0.1.0's SQL objects (a package upgraded, ALTER EXTENSION not yet run)
	// would back up the tables 0.1.0's rules chose: refuse, and say what to do.
	if (*spi_query("SELECT pg_catalog.to_regprocedure('tenant_backup._ownership()') IS NOT NULL")[0][0] == "f")
		throw SqlError(
		    ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "tenant_backup's SQL objects are older than its library",
		    "The library was upgraded but the extension was not.", "Run ALTER EXTENSION tenant_backup UPDATE.");
	// Citus reference tables are shared data, replicated to every node: never a tenant's rows,
	// whatever their columns (a restore never deletes or loads them).
	std::set<Oid> reference;
	if (*spi_query("SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL")[0][0] == "t")
		for (const auto &r : spi_query("SELECT logicalrelid::pg_catalog.oid::pg_catalog.text "
		                               "FROM pg_catalog.pg_dist_partition WHERE partmethod OPERATOR(pg_catalog.=) 'n' "
		                               "AND repmodel OPERATOR(pg_catalog.=) 't'",
		                               {}, true))
			reference.insert(oid_of(r[0]));
	std::vector<OwnedTable> tables;
	std::map<Oid, size_t> at;
	std::vector<ownership::Table> roles;
	auto add = [&](OwnedTable t, ownership::Role role) {
		at[t.relid] = tables.size();
		roles.push_back({t.schema + "." + t.name, role, "", t.gap, false});
		tables.push_back(std::move(t));
		return tables.size() - 1;
	};

	// Tables with the tenant column (discovered or registered); those that may not be read are gaps.
	for (const auto &r :
	     spi_query("SELECT k.relid::pg_catalog.text, n.nspname::pg_catalog.text, "
	               "  c.relname::pg_catalog.text, c.relkind::pg_catalog.text, "
	               "  k.tenant_column::pg_catalog.text, k.tenant_type::pg_catalog.oid::pg_catalog.text, "
	               "  k.has_index::pg_catalog.text, k.source, k.gap "
	               "FROM tenant_backup._tenant_table_candidates() k "
	               "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) k.relid "
	               "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace",
	               {}, true)) {
		OwnedTable t;
		t.relid = oid_of(r[0]);
		t.schema = *r[1];
		t.name = *r[2];
		t.relkind = (*r[3])[0];
		t.tenant_column = *r[4];
		t.tenant_type = oid_of(r[5]);
		t.has_index = *r[6] == "true";
		t.source = *r[7];
		t.gap = r[8].value_or("");
		if (reference.count(t.relid)) {
			t.source = "citus reference";
			t.gap.clear();
			add(std::move(t), ownership::Role::Excluded);
			continue;
		}
		if (t.gap.empty())
			t.rows_found_by = "tenant column";
		size_t i = add(std::move(t), r[8] ? ownership::Role::Blocked : ownership::Role::Direct);
		roles[i].tenant_column = true;
	}
	// Every other table that foreign keys connect; excluded and declared ones as the DBA said.
	std::map<Oid, std::pair<bool, std::string>> registered; // excluded, via_foreign_key
	for (const auto &r : spi_query("SELECT tbl::pg_catalog.oid::pg_catalog.text, excluded::pg_catalog.text, "
	                               "  via_foreign_key::pg_catalog.text FROM tenant_backup.registered_tables",
	                               {}, true))
		registered[oid_of(r[0])] = {*r[1] == "true", r[2].value_or("")};
	for (const auto &r :
	     spi_query("SELECT relid::pg_catalog.text, schema_name::pg_catalog.text, "
	               "  table_name::pg_catalog.text, relkind::pg_catalog.text, blocked, partition::pg_catalog.text "
	               "FROM tenant_backup._foreign_key_tables()",
	               {}, true)) {
		Oid relid = oid_of(r[0]);
		if (at.count(relid))
			continue;
		OwnedTable t;
		t.relid = relid;
		t.schema = *r[1];
		t.name = *r[2];
		t.relkind = (*r[3])[0];
		ownership::Role role = ownership::Role::Candidate;
		auto reg = registered.find(relid);
		if (reference.count(relid)) {
			role = ownership::Role::Excluded;
			t.source = "citus reference";
		} else if (reg != registered.end() && reg->second.first) {
			role = ownership::Role::Excluded;
			t.source = "excluded";
		} else if (r[4]) {
			role = ownership::Role::Blocked;
			t.gap = *r[4];
		} else if (*r[5] == "true") {
			role = ownership::Role::Excluded; // read through its partitioned table
		}
		size_t i = add(std::move(t), role);
		if (role == ownership::Role::Blocked)
			roles[i].blocked_reason = tables[i].gap;
		if (reg != registered.end() && !reg->second.first && !reg->second.second.empty()) {
			roles[i].declared = reg->second.second;
			tables[i].source = "declared";
		}
	}
	std::vector<GraphEdge> graph;
	for (const auto &r :
	     spi_query("SELECT constraint_name::pg_catalog.text, child::pg_catalog.text, "
	               "  parent::pg_catalog.text, child_column::pg_catalog.text, "
	               "  parent_column::pg_catalog.text, parent_column_type::pg_catalog.oid::pg_catalog.text, "
	               "  indexed::pg_catalog.text, constraint_oid::pg_catalog.text, unsafe_cast::pg_catalog.text "
	               "FROM tenant_backup._foreign_key_graph()",
	               {}, true)) {
		GraphEdge e{*r[0], oid_of(r[7]), oid_of(r[1]),    oid_of(r[2]),   r[3],
		            r[4],  r[5],         *r[6] == "true", *r[8] == "true"};
		if (at.count(e.child) && at.count(e.parent))
			graph.push_back(std::move(e));
	}
	// Root tables: what a tenant column itself references, by a key of a supported type.
	for (const auto &e : graph) {
		OwnedTable &child = tables[at[e.child]];
		size_t p = at[e.parent];
		if (roles[at[e.child]].role != ownership::Role::Direct || !e.child_column || !e.parent_column ||
		    *e.child_column != child.tenant_column || roles[p].role != ownership::Role::Candidate ||
		    !roles[p].declared.empty())
			continue;
		Oid type = oid_of(e.parent_column_type);
		if (!(type == INT2OID || type == INT4OID || type == INT8OID || type == TEXTOID || type == VARCHAROID ||
		      type == UUIDOID))
			continue;
		roles[p].role = ownership::Role::Direct;
		tables[p].rows_found_by = "root";
		tables[p].source = "root";
		tables[p].tenant_column = *e.parent_column;
		tables[p].tenant_type = type;
		tables[p].has_index = true; // a referenced key has a unique index
	}

	// A key compared through another role's cast may not be joined along: its table is a gap.
	for (const auto &e : graph)
		if (e.unsafe_cast && roles[at[e.child]].role == ownership::Role::Candidate) {
			roles[at[e.child]].role = ownership::Role::Blocked;
			roles[at[e.child]].blocked_reason = tables[at[e.child]].gap =
			    "foreign key " + e.constraint +
			    " compares its key through a cast written by a role that is not a superuser";
		}
	std::vector<ownership::Edge> edges;
	for (const auto &e : graph)
		edges.push_back({e.constraint, at[e.child], at[e.parent]});
	std::vector<ownership::Assignment> result = ownership::resolve(roles, edges);
	for (size_t i = 0; i < tables.size(); i++) {
		OwnedTable &t = tables[i];
		const ownership::Assignment &a = result[i];
		switch (a.kind) {
		case ownership::Kind::Direct:
			break;
		case ownership::Kind::Path: {
			t.rows_found_by = "path";
			if (t.source.empty())
				t.source = "discovered";
			t.depth = a.depth;
			t.has_index = graph[a.via].indexed;
			size_t last = i;
			for (size_t e : ownership::path_of(i, result, edges)) {
				const OwnedTable &to = tables[edges[e].parent];
				t.path_constraints.push_back(graph[e].oid);
				t.steps.push_back({edges[e].constraint, to.schema, to.name});
				t.path += (t.path.empty() ? "" : ", then ") + edges[e].constraint + " -> " + to.schema + "." + to.name;
				last = edges[e].parent;
			}
			t.tenant_column = tables[last].tenant_column;
			t.tenant_type = tables[last].tenant_type;
			break;
		}
		case ownership::Kind::Shared:
			t.rows_found_by = "shared";
			break;
		case ownership::Kind::Gap:
			t.gap = a.gap;
			t.ambiguous = !a.candidates.empty();
			break;
		case ownership::Kind::Unrelated:
			t.rows_found_by.clear();
			t.gap.clear();
			break;
		}
		if (reference.count(t.relid)) {
			t.rows_found_by = "shared"; // also when no tenant row references it
			t.gap.clear();
		}
	}
	// Inheritance children of path tables: foreign keys are not inherited, and backups read ONLY
	// the parent, so their rows would be missed silently; they are gaps until given the key.
	std::map<Oid, size_t> path_tables;
	for (size_t i = 0; i < tables.size(); i++)
		if (tables[i].rows_found_by == "path")
			path_tables[tables[i].relid] = i;
	if (!path_tables.empty())
		for (const auto &r :
		     spi_query("SELECT i.inhrelid::pg_catalog.text, i.inhparent::pg_catalog.text, "
		               "  n.nspname::pg_catalog.text, c.relname::pg_catalog.text, c.relkind::pg_catalog.text "
		               "FROM pg_catalog.pg_inherits i "
		               "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid "
		               "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
		               "WHERE NOT c.relispartition",
		               {}, true)) {
			auto parent = path_tables.find(oid_of(r[1]));
			Oid child = oid_of(r[0]);
			if (parent == path_tables.end() || (at.count(child) && !tables[at[child]].rows_found_by.empty()))
				continue;
			OwnedTable t;
			t.relid = child;
			t.schema = *r[2];
			t.name = *r[3];
			t.relkind = (*r[4])[0];
			const OwnedTable &p = tables[parent->second];
			t.gap = "it inherits from " + p.schema + "." + p.name +
			        ", whose rows are found through a foreign key it does not inherit; give it the same foreign key, "
			        "or exclude it";
			if (at.count(child))
				tables[at[child]].gap = t.gap;
			else
				tables.push_back(std::move(t));
		}
	std::vector<OwnedTable> out;
	for (auto &t : tables)
		if (!t.rows_found_by.empty() || !t.gap.empty())
			out.push_back(std::move(t));
	std::stable_sort(out.begin(), out.end(), [](const OwnedTable &a, const OwnedTable &b) {
		return std::tie(a.depth, a.schema, a.name) < std::tie(b.depth, b.schema, b.name);
	});
	return out;
}

namespace {

// This process's cache of read_ownership() (see load_ownership). `generation`
// counts the invalidations seen; a result is kept only if none came while it was read.
bool cache_on = false;
uint64_t generation = 0;
bool cached = false;
uint64_t cached_generation = 0;
std::string cached_key;
std::vector<OwnedTable> cached_tables;

void forget_relation(Datum, Oid) {
	generation++;
}
void forget_syscache(Datum, int, uint32) {
	generation++;
}

// What the tables' roles depend on besides the system catalogs: the settings, and the tables
// registered or excluded (rows of our own table, which no invalidation announces).
std::string ownership_key() {
	AsExtensionOwner owner;
	const char *column = setting_tenant_column(), *owners = setting_table_owners();
	auto rows = spi_query("SELECT coalesce(pg_catalog.string_agg(r::pg_catalog.text, ',' ORDER BY r.tbl), '') "
	                      "FROM tenant_backup.registered_tables r",
	                      {}, true);
	return std::string(column ? column : "") + "\n" + (owners ? owners : "") + "\n" + rows.at(0)[0].value_or("");
}

} // namespace

void cache_ownership_in_this_process() { // once per process
	if (cache_on)
		return;
	pg_call([] {
		// Any change of a relation (created, dropped, altered, its columns, indexes, constraints,
		// owner or statistics), of a role or membership (trusted owners), or of the database
		// (its owner) is announced by one of these.
		CacheRegisterRelcacheCallback(forget_relation, 0);
		CacheRegisterSyscacheCallback(AUTHOID, forget_syscache, 0);
		CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, forget_syscache, 0);
		CacheRegisterSyscacheCallback(DATABASEOID, forget_syscache, 0);
	});
	cache_on = true;
}

std::vector<OwnedTable> load_ownership() {
	if (!cache_on)
		cache_ownership_in_this_process();
	pg_call([] { AcceptInvalidationMessages(); });
	std::string key = ownership_key();
	if (cached && cached_generation == generation && cached_key == key)
		return cached_tables;
	uint64_t before = generation;
	std::vector<OwnedTable> tables = read_ownership();
	cached = generation == before;
	if (cached) {
		cached_generation = before;
		cached_key = key;
		cached_tables = tables;
	}
	return tables;
}

} // namespace tb::pg
