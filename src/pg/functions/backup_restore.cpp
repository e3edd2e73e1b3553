// tenant_backup.backup_restore(backup_id bigint)
//   RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint)
// tenant_backup.backup_restore(backup_id bigint, dry_run boolean, pre_restore_backup boolean DEFAULT NULL,
//                              mode text DEFAULT 'exact', tables regclass[] DEFAULT NULL)
//   RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint, only_in_backup bigint,
//                  only_live bigint, changed bigint, unchanged bigint, pre_restore_backup_id bigint)
//
// Undo (issue 21): unless tenant_backup.pre_restore_backup is off (or pre_restore_backup =>
// false), the restore first backs up the tenant as it is, in its own transaction, after every
// table was planned and before any row changes (kind pre_restore, take_pre_restore_backup); its id
// is in the result (of the two-argument form; backup_list shows it, labelled with the restore).
// Restoring it undoes the restore.
// Preview (dry_run => true): the same checks and plans, then the diff engine's counts per table
// (archive/diff_engine.hpp); nothing changes, nothing is backed up, and backup.view suffices.
// Merge (mode => 'missing'): only the backup's rows whose key the tenant has no row for now are
// inserted, parent tables first; nothing is deleted or changed (insert_missing). Aim (tables =>):
// only the named tables of the backup are restored; when that breaks a foreign key, the restore
// fails naming the table that must come with them.
//
// Replaces the tenant's rows in every table of the backup with the archived rows, inside the
// caller's transaction: the archive's SHA-256 is checked first, then per table DELETE + COPY FROM
// (every loaded row must carry the backup's tenant), then foreign keys, and last the sequences,
// which move only when the transaction commits. Any error aborts the transaction, leaving the
// tenant as it was. User triggers do not fire during our own DELETE and COPY (LoadingScope:
// session_replication_role = replica for those statements only), as with pg_restore
// --disable-triggers: a restore brings back data, it does not replay business logic. A superuser's
// restore writes each table as the table's owner (AsTableOwner). On a Citus coordinator, tables
// hash-distributed by the tenant column are deleted and loaded through Citus (citus_tables.hpp);
// every other Citus table kind is refused before anything changes.
#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/archived_tuples.hpp"
#include "pg/archive/diff_engine.hpp"
#include "pg/archive/take_backup.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"
#include "core/archive/tenant_field_check.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/archive/citus_tables.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/archive/sequences.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace tb::pg {

namespace {

struct TableResult {
	std::string name;
	uint64 removed, restored;
	std::optional<DiffCounts> diff; // a preview's
};

struct RestoreOptions {
	bool wide = false; // the two-argument form's result: the diff and the pre_restore backup
	bool dry_run = false;
	std::optional<bool> pre_restore;             // nullopt: tenant_backup.pre_restore_backup
	bool missing = false;                        // mode 'missing': only re-insert rows whose key is gone
	std::optional<std::set<std::string>> tables; // aimed: only these ("schema.name")
};

bool aimed_at(const RestoreOptions &o, const std::string &name) {
	return !o.tables || o.tables->count(name);
}

// The named tables must be tables of the backup.
void refuse_tables_not_in_backup(const RestoreOptions &o, const std::vector<std::string> &archived, int64 id) {
	if (!o.tables)
		return;
	for (const auto &name : *o.tables)
		if (std::find(archived.begin(), archived.end(), name) == archived.end())
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "table " + name + " is not in backup " + std::to_string(id) + "; nothing was restored", "",
			               "tenant_backup.backup_list() and backup_diff() show the backup's tables.");
}

// Mode 'missing': the backup's rows whose key the tenant has no row for now are inserted, with
// the restore's own checks (tenant, drift, triggers off, as the table's owner); no row is
// deleted or changed. A table without a key to match rows by is skipped with a WARNING; rows
// whose unique key holds a NULL are never missing. Returns the rows inserted.
uint64 insert_missing(const RestoredTable &r, const ArchivedCopy &archived) {
	if (r.distributed)
		throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
		               "mode 'missing' cannot restore Citus table " + r.plan.display_name + "; nothing was restored",
		               "", "Restore the whole backup (mode 'exact').");
	RowKey key = choose_row_key(r.plan.relid, archived.columns());
	if (key.columns.empty()) {
		warn("table " + r.plan.display_name +
		         " has no primary or unique key to tell missing rows by; none of its rows was re-inserted",
		     "Give it a primary key, or restore the whole backup (mode 'exact').");
		return 0;
	}
	auto cols = [&](const std::string &alias) {
		return join_each(archived.columns(), ", ",
		                 [&](size_t i) { return alias + quoted_ident(archived.columns()[i]); });
	};
	std::string present =
	    join_each(key.columns, " AND ", [&](size_t i) { return "x." + quoted_ident(key.columns[i]) + " IS NOT NULL"; });
	std::string same_key = join_each(key.columns, " AND ", [&](size_t i) {
		return "ch." + quoted_ident(key.columns[i]) + key.equals[i] + "x." + quoted_ident(key.columns[i]);
	});
	std::string sql = "INSERT INTO " + r.plan.qualified + " (" + cols("") + ") SELECT " + cols("x.") + " FROM " +
	                  archived.rows(archived.columns()) + " WHERE " + present + " AND NOT EXISTS (SELECT 1" +
	                  r.plan.table.tenant_rows_sql() + " AND " + same_key + ")";
	const char *q = sql.c_str();
	SqlParams params = SqlParams().datum(r.plan.tenant_type, r.tenant);
	LoadingScope loading(r.plan.relid);
	return pg_eval([&] { return spi_run(q, params, false, SPI_OK_INSERT); });
}

// (The one-argument form's descriptor has the first three columns only: tuplestore_putvalues
// takes as many values as it has.)
void emit_results(FunctionCallInfo fcinfo, const std::vector<TableResult> &results,
                  std::optional<int64> pre_restore_id) {
	for (const auto &r : results) {
		const char *name = r.name.c_str();
		pg_call([&] {
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			Datum values[8] = {CStringGetTextDatum(name), Int64GetDatum(static_cast<int64>(r.removed)),
			                   Int64GetDatum(static_cast<int64>(r.restored))};
			bool nulls[8] = {false, false, false, true, true, true, true, true};
			if (r.diff) {
				values[3] = Int64GetDatum(static_cast<int64>(r.diff->only_in_backup));
				values[4] = Int64GetDatum(static_cast<int64>(r.diff->only_live));
				values[5] = Int64GetDatum(static_cast<int64>(r.diff->changed));
				values[6] = Int64GetDatum(static_cast<int64>(r.diff->unchanged));
				nulls[3] = nulls[4] = nulls[5] = nulls[6] = false;
			}
			if (pre_restore_id) {
				values[7] = Int64GetDatum(*pre_restore_id);
				nulls[7] = false;
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		});
	}
}

// What a restore would do, table by table: it would remove the tenant's rows now and load the
// backup's; the diff says what that changes. The restore's own checks and plans refuse what it
// would refuse (except foreign keys and sequences, which only the load shows).
std::vector<TableResult> preview_restore(int64 id, const RestoreOptions &options, AuditedAction &audit) {
	StoredBackup authorized = authorize_backup(id, "restored", "backup.view", audit);
	require_sequence_privileges(catalog_tables(id), id, authorized.tenant);
	refuse_citus_tables_of_backup(id);
	OpenedBackup opened = open_backup(authorized, "nothing was restored", false);
	std::vector<TableResult> results;
	std::vector<std::string> archived;
	for (const auto &entry :
	     tb::archive::read_archive_index(*opened.storage, opened.backup.object_name, reader_options(opened.backup)))
		archived.push_back(entry.schema + "." + entry.name);
	refuse_tables_not_in_backup(options, archived, id);
	compare_backup(
	    opened, nullptr, PlanPurpose::Restore,
	    [&](const RestoredTable &t, const Comparison &c) {
		    DiffCounts n = count_differences(c);
		    if (options.missing) // only what is missing comes back, if rows have a key to tell it by
			    results.push_back({t.plan.display_name, 0, n.missing_by_key, n});
		    else
			    results.push_back({t.plan.display_name, n.only_live + n.changed + n.unchanged,
			                       n.only_in_backup + n.changed + n.unchanged, n});
	    },
	    options.tables ? &*options.tables : nullptr);
	return results;
}

Datum run_restore(FunctionCallInfo fcinfo, const RestoreOptions &options);
Datum finish_restore(FunctionCallInfo fcinfo, ForeignKeyChecks &foreign_keys,
                     const std::vector<RestoredTable> &restored, const std::vector<TableResult> &results,
                     const StoredBackup &backup, int64 id, const RestoreOptions &options,
                     std::optional<int64> pre_restore_id, AuditedAction &audit);

// The tables => argument (regclass[]): each table's "schema.name", as the archive names it.
// A regclass names existing tables only, resolved by PostgreSQL: no text becomes SQL.
std::optional<std::set<std::string>> table_names_arg(FunctionCallInfo fcinfo, int n) {
	bool isnull = pg_eval([fcinfo, n] { return PG_ARGISNULL(n); });
	if (isnull)
		return std::nullopt;
	std::vector<Oid> oids;
	pg_call([&] {
		ArrayType *array = PG_GETARG_ARRAYTYPE_P(n);
		Datum *values;
		bool *nulls;
		int count;
		deconstruct_array(array, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &values, &nulls, &count);
		for (int i = 0; i < count; i++)
			if (!nulls[i])
				oids.push_back(DatumGetObjectId(values[i]));
	});
	std::set<std::string> names;
	for (Oid oid : oids) {
		const char *schema = nullptr, *name = nullptr;
		pg_call([&] {
			name = get_rel_name(oid);
			schema = name ? get_namespace_name(get_rel_namespace(oid)) : nullptr;
		});
		if (name && schema)
			names.insert(std::string(schema) + "." + name);
	}
	if (names.empty())
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "tables must name at least one table", "",
		               "Leave it out (NULL) to restore every table of the backup.");
	return names;
}

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_restore) {
	return run_restore(fcinfo, RestoreOptions{});
}

TB_SQL_FUNCTION(backup_restore_with_options) {
	RestoreOptions options;
	options.wide = true;
	pg_call([&] {
		if (PG_ARGISNULL(1))
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("dry_run must not be NULL")));
		options.dry_run = PG_GETARG_BOOL(1);
		if (!PG_ARGISNULL(2))
			options.pre_restore = PG_GETARG_BOOL(2);
	});
	std::optional<std::string> mode = bounded_text_arg(fcinfo, 3, "mode", 16, false);
	if (!mode || (*mode != "exact" && *mode != "missing"))
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "mode must be 'exact' or 'missing'");
	options.missing = *mode == "missing";
	options.tables = table_names_arg(fcinfo, 4);
	return run_restore(fcinfo, options);
}

namespace tb::pg {
namespace {

Datum run_restore(FunctionCallInfo fcinfo, const RestoreOptions &options) {
	refuse_on_standby("backup_restore");
	AuditedAction audit(options.dry_run ? "restore_preview" : "restore"); // a refused argument is audited too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	if (options.dry_run) {
		std::vector<TableResult> results = preview_restore(id, options, audit);
		audit.ok();
		spi_end();
		emit_results(fcinfo, results, std::nullopt);
		return 0;
	}
	StoredBackup authorized = authorize_backup(id, "restored", "backup.restore", audit);
	// Every privilege the last step needs, checked before the first: one error naming them all.
	require_sequence_privileges(catalog_tables(id), id, authorized.tenant);
	// Before anything is read or changed: Citus table kinds a restore cannot write (issue 15).
	refuse_citus_tables_of_backup(id);
	OpenedBackup opened = open_backup(authorized, "nothing was restored", true);
	const StoredBackup &backup = opened.backup;
	tb::archive::ArchiveReader &reader = *opened.reader;

	// Every table of the archive is planned before anything changes (its table records, read
	// through the archive's index): then the tenant's rows of tables found through foreign keys
	// are deleted deepest first, while the rows their paths go through are still there; the other
	// tables are deleted as they load. Loading is parent-first, as the backup wrote them.
	std::vector<TenantTable> now = load_tenant_tables();
	std::map<std::string, RestoredTable> planned;
	std::vector<std::string> archive_order, archived;
	int colocation = 0; // of the distributed tables, which must all share it
	for (const auto &entry :
	     tb::archive::read_archive_index(*opened.storage, backup.object_name, reader_options(backup))) {
		std::unique_ptr<tb::archive::ArchiveReader> one =
		    tb::archive::open_archive_table(*opened.storage, backup.object_name, reader_options(backup), entry);
		std::optional<tb::archive::TableHeader> table = one->next_table();
		if (!table)
			throw SqlError(ERRCODE_DATA_CORRUPTED,
			               "archive of backup " + std::to_string(id) + " is damaged: its index names a table it lacks");
		archived.push_back(table->schema + "." + table->name);
		if (!aimed_at(options, archived.back()))
			continue; // an aimed restore leaves the other tables alone
		RestoredTable r{plan_table_restore(*table, id, now), 0};
		if (std::optional<CitusTable> c = citus_table(r.plan.relid)) {
			refuse_unless_distributed_by_tenant(*c, r.plan.relid, r.plan.display_name, r.plan.tenant_column_raw,
			                                    r.plan.table.is_path(), colocation);
			r.distributed = true;
		}
		r.tenant =
		    tenant_datum(backup.tenant, r.plan.tenant_type, r.plan.table.tenant_value_column(), r.plan.display_name);
		archive_order.push_back(table->schema + "." + table->name);
		planned.emplace(table->schema + "." + table->name, std::move(r));
	}
	refuse_tables_not_in_backup(options, archived, id);
	// Undo: the tenant as it is, backed up before anything changes, in this transaction.
	std::optional<int64> pre_restore_id;
	if (options.pre_restore.value_or(setting_pre_restore_backup()))
		pre_restore_id = take_pre_restore_backup(backup.tenant, id);
	ForeignKeyChecks foreign_keys;
	std::vector<RestoredTable> restored;
	std::vector<TableResult> results;
	if (options.missing) {
		// Parent-first, as the archive holds the tables: a deleted project comes back before its tasks.
		for (const auto &entry :
		     tb::archive::read_archive_index(*opened.storage, backup.object_name, reader_options(backup))) {
			auto found = planned.find(entry.schema + "." + entry.name);
			if (found == planned.end())
				continue;
			std::unique_ptr<tb::archive::ArchiveReader> one =
			    tb::archive::open_archive_table(*opened.storage, backup.object_name, reader_options(backup), entry);
			std::optional<tb::archive::TableHeader> table = one->next_table();
			if (!table)
				throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) +
				                                           " is damaged: its index names a table it lacks");
			ArchivedCopy archived_rows(*one, *table, found->second, id);
			uint64 inserted = insert_missing(found->second, archived_rows);
			archived_rows.drop();
			pg_call([] { CommandCounterIncrement(); });
			results.push_back({found->second.plan.display_name, 0, inserted});
			restored.push_back(std::move(found->second));
		}
		return finish_restore(fcinfo, foreign_keys, restored, results, backup, id, options, pre_restore_id, audit);
	}
	std::map<std::string, uint64> removed_through_paths;
	std::vector<const RestoredTable *> paths;
	for (const auto &[name, r] : planned)
		if (r.plan.table.is_path())
			paths.push_back(&r);
	std::stable_sort(paths.begin(), paths.end(), [](const RestoredTable *a, const RestoredTable *b) {
		return a->plan.table.path.size() > b->plan.table.path.size();
	});
	for (const RestoredTable *r : paths)
		removed_through_paths[r->plan.display_name] = foreign_keys.delete_tenant_rows(*r);
	// Citus enforces foreign keys and triggers on the workers' shards whatever the coordinator's
	// session_replication_role: the tenant's rows of distributed tables are deleted children first
	// (the reverse of the archive's parent-first order) before any is loaded.
	std::map<std::string, uint64> removed_first;
	for (auto name = archive_order.rbegin(); name != archive_order.rend(); ++name)
		if (planned.at(*name).distributed)
			removed_first[*name] = foreign_keys.delete_tenant_rows(planned.at(*name));

	while (std::optional<tb::archive::TableHeader> table = reader.next_table()) {
		auto found = planned.find(table->schema + "." + table->name);
		if (found == planned.end() && !aimed_at(options, table->schema + "." + table->name))
			continue; // not aimed at: left as it is
		if (found == planned.end())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           table->schema + "." + table->name + " is not in its index");
		RestoredTable r = std::move(found->second);
		std::string key = found->first;
		planned.erase(found);
		bool path = r.plan.table.is_path();
		uint64 removed = path            ? removed_through_paths[r.plan.display_name]
		                 : r.distributed ? removed_first[key]
		                                 : foreign_keys.delete_tenant_rows(r);

		ArchivedTuples tuples(reader, *table, r, id);
		uint64 loaded;
		if (r.distributed) {
			loaded = load_into_citus(r.plan.relid, r.plan.qualified, r.plan.load, tuples.tuples(), r.plan.load.size());
		} else {
			LoadingScope loading(r.plan.relid);
			loaded = copy_into(r.plan.relid, r.plan.load, tuples.copy_stream());
		}
		if (loaded != reader.table_rows())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           r.plan.display_name + " loaded " + std::to_string(loaded) +
			                                           " rows, the archive records " +
			                                           std::to_string(reader.table_rows()));
		pg_call([] { CommandCounterIncrement(); });
		results.push_back({r.plan.display_name, removed, loaded});
		restored.push_back(std::move(r));
	}
	if (!planned.empty())
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
		                                           planned.begin()->first + " of its index has no section");
	for (size_t i = 0; i < restored.size(); i++)
		if (restored[i].plan.table.is_path())
			ForeignKeyChecks::check_path_rows(restored[i], results[i].restored, id);
	return finish_restore(fcinfo, foreign_keys, restored, results, backup, id, options, pre_restore_id, audit);
}

// The last steps of every mode: foreign keys, then sequences, the audit and the result.
Datum finish_restore(FunctionCallInfo fcinfo, ForeignKeyChecks &foreign_keys,
                     const std::vector<RestoredTable> &restored, const std::vector<TableResult> &results,
                     const StoredBackup &backup, int64 id, const RestoreOptions &options,
                     std::optional<int64> pre_restore_id, AuditedAction &audit) {
	foreign_keys.check(restored, id, options.tables.has_value());
	// The very last step, after every check: what the sequences must be past, bounded, moved at commit.
	std::vector<SequenceMove> moves;
	for (const auto &r : restored)
		for (const auto &m : plan_sequence_moves(r, id))
			moves.push_back(m);
	advance_sequences_at_commit(moves, id, backup.tenant);
	audit.ok();
	spi_end();
	emit_results(fcinfo, results, pre_restore_id);
	return 0;
}

} // namespace
} // namespace tb::pg
