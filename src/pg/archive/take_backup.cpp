// take_backup(): reads all of a tenant's rows, from every tenant table, under one snapshot, and
// streams them (binary COPY tuples -> archive framing -> zstd -> SHA-256 -> temporary file) into
// the repository. The archive is renamed into place when the transaction commits.
#include "pg/archive/take_backup.hpp"
#include "pg/archive/unchanged_rows.hpp"
#include "pg/repository/self_description.hpp"

#include "pg/catalog/audit.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/archive/new_archive.hpp"
#include "pg/shared_memory/progress.hpp"
#include "pg/catalog/quota.hpp"
#include "pg/catalog/tenant_presence.hpp"
#include "pg/catalog/tenant_tables.hpp"
#include "pg/archive/tuple_receiver.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/archive/foreign_keys.hpp"
#include "pg/archive/citus_tables.hpp"

#include <optional>

extern "C" {
#include "utils/rls.h"
}

namespace tb::pg {

namespace {

// Runs the table's query under the active snapshot with our receiver as destination.
uint64 stream_table(const TenantTable &t, Datum tenant, archive::ArchiveWriter &writer) {
	std::string sql = t.select_sql();
	TupleStreamReceiver *receiver = create_tuple_receiver(&writer);
	// Rows found through a path: joined by index probes along it, never by scanning its tables.
	std::optional<int> probes;
	if (t.is_path())
		probes = plan_with_index_probes();
	const char *query = sql.c_str();
	Oid type = t.tenant_type;
	DestReceiver *dest = as_dest(receiver);
	// read_only: the snapshot we pushed, for every table alike
	pg_call([=] { spi_select_into(query, type, tenant, dest, true); });
	if (probes)
		end_index_probes(*probes);
	uint64 rows = flush_tuple_receiver(receiver);
	destroy_tuple_receiver(receiver); // memory stays flat however many tables there are
	return rows;
}

// Row-level security that applies to the caller would make a partial backup, and restoring a
// partial backup would delete the rows the caller could not see: refuse, as a restore does.
void refuse_row_level_security(const TenantTable &t) {
	Oid relid = t.relid;
	if (pg_eval([relid] { return check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED; }))
		throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
		               "cannot back up table " + t.display_name() + ": row-level security applies to the current user",
		               "Back up as a role that bypasses row-level security on the tenant tables (or owns them).");
}

std::string quoted_literal(const std::string &text) {
	const char *s = text.c_str();
	return pg_eval([s] { return static_cast<const char *>(quote_literal_cstr(s)); });
}

// Tables that would hold tenant rows but that backups leave out, and tables they read badly
// (backup_table_gaps()), are named in every backup, never silently missing (`quiet`: a restore's own
// pre_restore backup, whose restore the tenant's backups warned about already).
std::vector<TableGap> warn_table_gaps(const std::string &tenant, bool quiet) {
	std::vector<TableGap> gaps = load_table_gaps();
	for (const auto &gap : gaps)
		if (gap.refuses_backups) // never a guess at whose rows they are
			throw SqlError(ERRCODE_INVALID_FOREIGN_KEY,
			               "cannot back up tenant \"" + tenant + "\": the ownership of table " + gap.table +
			                   " is ambiguous",
			               "Table " + gap.table + ": " + gap.reason + ".",
			               "Declare the foreign key its rows belong through: SELECT "
			               "tenant_backup.backup_register_table(" +
			                   quoted_literal(gap.table) + ", via_foreign_key => '...'); or exclude the table.");
	for (const auto &gap : gaps) {
		if (quiet)
			break;
		if (!gap.left_out) {
			warn("tenant table " + gap.table + ": " + gap.reason,
			     "CREATE INDEX ON the table (the tenant column, or the foreign key's columns, ...).");
			continue;
		}
		warn("tenant_backup: table " + gap.table + " is left out of the backup of tenant \"" + tenant +
		         "\": " + gap.reason,
		     "Exclude it with tenant_backup.backup_exclude_table() if it holds no tenant data; otherwise register "
		     "it (backup_register_table, with via_foreign_key for a foreign key path), or list its owner in "
		     "tenant_backup.table_owners.");
	}
	std::vector<TableGap> left_out;
	for (const auto &gap : gaps)
		if (gap.left_out)
			left_out.push_back(gap);
	return left_out;
}

// The tables this backup left out, in its catalog row: backup_status shows the tenant's coverage
// as incomplete while its newest backup has any.
void record_left_out(int64 id, const std::vector<TableGap> &left_out) {
	std::string json = "[";
	for (const auto &gap : left_out)
		json += (json.size() > 1 ? ", " : "") + std::string("{\"table\": ") + quote_json(gap.table) +
		        ", \"reason\": " + quote_json(gap.reason) + "}";
	json += "]";
	AsExtensionOwner owner; // the catalog is the extension's own
	spi_query("UPDATE tenant_backup.backups SET left_out = $2::jsonb WHERE id = $1::bigint",
	          {std::to_string(id), json});
}

} // namespace

void take_backup(NewBackup &backup) {
	AuditedAction audit("create", backup.tenant); // before the tenant value is cast: a failure is audited
	take_backup(backup, audit);
}

namespace {

// What check_backup_allowed checks, and what the backup goes on with: the tables and the tenant's
// value in each.
struct AllowedBackup {
	std::vector<TenantTable> tables;
	std::vector<Datum> values;
};

// A restore's own backup of what it overwrites (issue 21, `pre_restore`) is part of the restore,
// which the caller may do (backup.restore); it is taken of whatever the tenant holds, even nothing.
AllowedBackup allow_backup(std::string &tenant, AuditedAction &audit, bool pre_restore = false) {
	AllowedBackup allowed;
	allowed.tables = load_tenant_tables();
	allowed.values = tenant_values(tenant, allowed.tables);
	tenant = canonical_tenant(tenant, allowed.tables, allowed.values);
	audit.set_tenant(tenant);
	if (!pre_restore) {
		require_permission("backup.create", tenant, 0, audit.action());
		require_tenant_in_root_tables(tenant, allowed.tables, "nothing was backed up"); // issue 19.5
	}
	for (const auto &t : allowed.tables)
		refuse_row_level_security(t);
	return allowed;
}

} // namespace

std::string check_backup_allowed(const std::string &tenant, AuditedAction &audit) {
	std::string canonical = tenant;
	allow_backup(canonical, audit);
	return canonical;
}

void take_backup(NewBackup &backup, AuditedAction &audit, WorkerReads reads) {
	// On Citus, before the first read of a worker: each worker reads the tenant under one snapshot
	// (unless the restore this backup precedes writes the workers next, take_backup.hpp).
	std::optional<WorkerSnapshotScope> worker_snapshots;
	if (reads == WorkerReads::OneSnapshot)
		worker_snapshots.emplace();
	// Retention, not the quota, bounds a restore's pre_restore backups.
	bool pre_restore = backup.kind == "pre_restore";
	AllowedBackup allowed = allow_backup(backup.tenant, audit, pre_restore);
	const std::vector<TenantTable> &tables = allowed.tables;
	const std::vector<Datum> &values = allowed.values;
	if (!pre_restore) // a restore's holds the tenant's lock exclusively already
		lock_tenant(backup.tenant, false);
	if (backup.kind != "auto" && !pre_restore)
		check_backup_quota(backup.tenant);
	// A restore's own backup does not repeat the gaps every backup of the tenant warns about.
	std::vector<TableGap> left_out = warn_table_gaps(backup.tenant, pre_restore);

	if (!backup.id)
		backup.id = next_backup_id();
	backup.created_at = pg_eval([] { return GetCurrentTimestamp(); });
	// One snapshot for every table: a transaction that touched two tables is wholly in or out.
	if (worker_snapshots)
		worker_snapshots->push_coordinator_snapshot();
	else
		pg_call([] { PushActiveSnapshot(GetTransactionSnapshot()); });
	backup.snapshot_at = pg_eval([] { return GetCurrentTimestamp(); });
	backup.read_horizon = read_horizon_of_active_snapshot();

	BackupProgress progress(backup.id, backup.tenant, backup.kind, static_cast<int>(tables.size()));
	progress.phase("reading");
	NewArchive archive(backup, true); // zstd, AES-GCM, SHA-256 and writes overlap with the scan
	tb::archive::ArchiveWriter &writer = archive.writer();
	for (size_t i = 0; i < tables.size(); i++) {
		const TenantTable &t = tables[i];
		progress.table(t.display_name());
		writer.begin_table(t.header());
		uint64 rows = stream_table(t, values[i], writer);
		writer.end_table();
		TableSummary summary{t.schema, t.name, t.tenant_column, rows, {}};
		for (const auto &c : t.columns)
			summary.columns.emplace_back(c.name, c.type);
		backup.tables.push_back(std::move(summary));
		backup.rows += rows;
	}
	progress.tables_finished();
	progress.phase("storing");
	archive.finish(backup);
	pg_call([] { PopActiveSnapshot(); });
	worker_snapshots.reset(); // the catalog is written at the caller's own level

	insert_completed_backup(backup);
	record_left_out(backup.id, left_out);
	describe_backup(backup.id); // its record and key beside every copy (self_description.hpp)
	audit.set_backup(backup.id);
	audit.ok();
	archive.publish_at_commit();
}

int64 take_pre_restore_backup(const std::string &tenant, int64 restored_id, WorkerReads reads) {
	NewBackup backup;
	backup.tenant = tenant;
	backup.kind = "pre_restore";
	backup.label = "before restore of backup " + std::to_string(restored_id);
	AuditedAction audit("create", backup.tenant);
	take_backup(backup, audit, reads);
	return backup.id;
}

} // namespace tb::pg
