// How one table of an archive maps onto the table as it is now (schema drift): which fields to
// keep, which columns to load, and clear errors for what cannot be restored.
#pragma once
#include "core/archive/format.hpp"
#include "pg/archive/column_mapping.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <optional>
#include <set>
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
	ColumnPlan mapping;            // the whole column mapping (keep, load, drops_fields above are its own)
	bool dropped = false;          // the table no longer exists: skipped (RestoreOptions::strict refuses)
};

struct RestoreOptions {
	bool strict = false; // a table dropped since the backup is an error rather than skipped
	// backup_restore_into (archive/restore_into.hpp): a table dropped since is planned as dropped
	// without the WARNING that it is skipped (it is created from the archive's columns instead).
	bool recreates_dropped = false;
	// Issue 21 (archive/restore.hpp): nullopt: tenant_backup.pre_restore_backup decides.
	std::optional<bool> pre_restore;
	// mode 'missing': only the backup's rows whose key the tenant has no row for now are inserted,
	// parent tables first; nothing is deleted or changed. A table without a primary or unique key
	// is skipped with a WARNING; a row whose unique key holds a NULL is never missing.
	bool missing = false;
	// Aimed: only these tables of the backup ("schema.name"); a foreign key that this breaks fails
	// the restore naming the table to add.
	std::optional<std::set<std::string>> tables;
	// Aimed at rows (archive/row_aim.hpp): a jsonb object naming, per table ("schema.name"), the
	// primary-key values of its rows; the rows that reference them through foreign keys come with
	// them. Its text, as jsonb prints it.
	std::optional<std::string> rows;
};

// What a plan is for: a restore (or its preview) writes the table; a comparison (backup_diff)
// only reads it, as a backup does: ACCESS SHARE and SELECT instead of ROW EXCLUSIVE and INSERT,
// DELETE and SELECT, and no refusal of triggers (nothing is loaded into the table).
enum class PlanPurpose { Restore, Compare };

// Schema drift, the one rule for every restore path (restore, import, drill): column_mapping.hpp.

// Resolves the table (locking it ROW EXCLUSIVE), checks privileges and column types, and that its
// rows are found the same way as at the backup (`now` is load_tenant_tables()): by the same tenant
// column, or through the same foreign keys; maps the columns (column_mapping.hpp). A table
// dropped since the backup is planned as `dropped`, with a WARNING, unless options.strict. Needs
// SPI connected.
TableRestorePlan plan_table_restore(const archive::TableHeader &table, int64 backup_id,
                                    const std::vector<TenantTable> &now, const RestoreOptions &options = {},
                                    PlanPurpose purpose = PlanPurpose::Restore);

} // namespace tb::pg
