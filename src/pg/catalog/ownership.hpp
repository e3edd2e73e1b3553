// Which tables hold a tenant's rows and how each row finds its tenant, read from the catalog and
// decided by src/core/ownership: tables with the tenant column, root tables (which the tenant
// columns reference), path tables (found through foreign keys), shared tables, and gaps.
#pragma once
#include "core/archive/format.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"

#include <string>
#include <vector>

namespace tb::pg {

struct OwnedTable {
	Oid relid = InvalidOid;
	std::string schema, name;
	char relkind = 'r';
	std::string rows_found_by; // "tenant column", "root", "path", "shared"; empty for a gap
	std::string source;        // "registered", "discovered", "declared" (a path chosen by the DBA), "root"
	std::string tenant_column; // tenant column or root key; for a path table, that of the path's last table
	Oid tenant_type = InvalidOid;
	bool has_index = false;               // an index leads with the tenant column (or the first key of the path)
	std::vector<Oid> path_constraints;    // path: the foreign keys, from the table outwards
	std::vector<archive::PathStep> steps; // the same by name, and the table each references
	std::string path;                     // path: for people ("tasks_project_fkey -> app.projects")
	int depth = 0;
	std::string gap;        // why backups leave it out, if they do
	bool ambiguous = false; // the gap: several foreign keys lead to tenant rows; backups refuse until one is declared

	bool in_backups() const { return gap.empty() && rows_found_by != "shared" && !rows_found_by.empty(); }
};

// Every table that holds, is referenced by, or would hold tenant rows, ordered parent-first (by
// depth, then name). Needs SPI connected; reads the catalog as the extension's owner.
// The result is kept for the process's later calls until the catalog announces a change that may
// alter it (a relation created, dropped or altered, in this transaction or committed by another;
// a role, a membership, the database) or the settings or registered tables differ: working it out
// costs a small tenant's backup more than its rows do, and backup_list(tenant) more than its query.
std::vector<OwnedTable> load_ownership();

// Registers the invalidation callbacks of load_ownership's cache (at its first call otherwise).
void cache_ownership_in_this_process();

} // namespace tb::pg
