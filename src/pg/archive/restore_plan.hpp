// How one table of an archive maps onto the table as it is now (schema drift): which fields to
// keep, which columns to load, and clear errors for what cannot be restored.
#pragma once
#include "core/archive/format.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <string>
#include <vector>

namespace tb::pg {

struct TableRestorePlan {
	Oid relid = InvalidOid;
	char relkind = 'r';
	std::string display_name;  // schema.table
	std::string qualified;     // quoted, for SQL
	std::string tenant_column; // quoted, for SQL; empty for a path table
	std::string tenant_column_raw;
	TenantTable table; // the table as backups see it now: how its tenant rows are found
	Oid tenant_type = InvalidOid;
	std::vector<bool> keep;        // per archived field
	std::vector<std::string> load; // columns that receive the kept fields, in order
	bool drops_fields = false;     // some archived columns no longer exist
};

// Schema drift, the one rule for every restore path (restore, import): an archived column that no
// longer exists, or is now generated, is skipped with a WARNING; one whose type changed is refused
// (`consequence` ends that error, e.g. "nothing was restored"). `source` names the archive in
// messages ("backup 7", "the document"). Needs SPI connected.
struct ColumnPlan {
	std::vector<bool> keep;        // per archived field
	std::vector<std::string> load; // columns that receive the kept fields, in order
	bool drops_fields = false;
};
ColumnPlan plan_columns(const std::vector<archive::Column> &archived, Oid relid, const std::string &display,
                        const std::string &source, const std::string &consequence);

// What a plan is for: a restore (or its preview) writes the table; a comparison (backup_diff)
// only reads it, as a backup does: ACCESS SHARE and SELECT instead of ROW EXCLUSIVE and INSERT,
// DELETE and SELECT, and no refusal of triggers (nothing is loaded into the table).
enum class PlanPurpose { Restore, Compare };

// Resolves the table (locking it ROW EXCLUSIVE), checks privileges and column types, and that its
// rows are found the same way as at the backup (`now` is load_tenant_tables()): by the same tenant
// column, or through the same foreign keys; warns about dropped columns. Needs SPI connected.
TableRestorePlan plan_table_restore(const archive::TableHeader &table, int64 backup_id,
                                    const std::vector<TenantTable> &now, PlanPurpose purpose = PlanPurpose::Restore);

} // namespace tb::pg
