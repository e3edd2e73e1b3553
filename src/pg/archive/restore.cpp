#include "pg/archive/restore.hpp"
#include "pg/archive/row_aim.hpp"

#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "core/archive/tenant_field_check.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/archive/take_backup.hpp"
#include "pg/archive/diff_apply.hpp"
#include "pg/archive/diff_engine.hpp"
#include "pg/archive/archived_tuples.hpp"
#include "pg/archive/citus_tables.hpp"
#include "pg/archive/column_mapping.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/archive/sequences.hpp"
#include "pg/archive/unchanged_rows.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"
#include "pg/shared_memory/progress.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace tb::pg {

namespace {

// Counts what a table's rows pass on to COPY, for backup_progress: bytes as they go, rows as the
// tenant check counts them (rows found through a path are counted when their table is done).
class ProgressCount : public tb::Source {
public:
	ProgressCount(tb::Source &from, const tb::archive::TenantFieldCheck *rows) : from_(from), rows_(rows) {}
	size_t read(uint8_t *buf, size_t cap) override {
		size_t n = from_.read(buf, cap);
		uint64 rows = rows_ ? rows_->rows() : 0;
		progress_add(rows - counted_, n);
		counted_ = rows;
		return n;
	}
	uint64 counted() const { return counted_; }

private:
	tb::Source &from_;
	const tb::archive::TenantFieldCheck *rows_;
	uint64 counted_ = 0;
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

// Where a table (key: "schema.table") is in the archive's order, the order of its index.
size_t archive_position(const std::vector<std::string> &archive_order, const std::string &key) {
	return static_cast<size_t>(std::find(archive_order.begin(), archive_order.end(), key) - archive_order.begin());
}

} // namespace

uint64 insert_missing(const RestoredTable &r, const ArchivedCopy &archived, const std::string &only) {
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
	std::string sql = "INSERT INTO " + r.plan.qualified + " (" + cols("") + ")" +
	                  (identity_always_columns(r.plan.relid).empty() ? "" : " OVERRIDING SYSTEM VALUE") + " SELECT " +
	                  cols("x.") + " FROM " + archived.rows(archived.columns()) + " WHERE " + present +
	                  (only.empty() ? "" : " AND (" + only + ")") + " AND NOT EXISTS (SELECT 1" +
	                  r.plan.table.tenant_rows_sql() + " AND " + same_key + ")";
	const char *q = sql.c_str();
	SqlParams params = SqlParams().datum(r.plan.tenant_type, r.tenant);
	LoadingScope loading(r.plan.relid);
	return pg_eval([&] { return spi_run(q, params, false, SPI_OK_INSERT); });
}

StoredBackup check_restore_allowed(int64 id, AuditedAction &audit) {
	StoredBackup authorized = authorize_backup(id, "restored", "backup.restore", audit);
	// Every privilege the last step needs, checked before the first: one error naming them all.
	require_sequence_privileges(catalog_tables(id), id, authorized.tenant, audit.action());
	// Before anything is read or changed: Citus table kinds a restore cannot write (issue 15).
	refuse_citus_tables_of_backup(id);
	return authorized;
}

StoredBackup check_preview_allowed(int64 id, AuditedAction &audit) {
	StoredBackup authorized = authorize_backup(id, "restored", "backup.view", audit);
	require_sequence_privileges(catalog_tables(id), id, authorized.tenant, audit.action());
	refuse_citus_tables_of_backup(id);
	return authorized;
}

const char *restore_action(const RestoreRequest &request) {
	return request.dry_run ? "restore_preview" : "restore";
}

StoredBackup check_restore_request(int64 id, AuditedAction &audit, const RestoreRequest &request) {
	StoredBackup backup = request.dry_run ? check_preview_allowed(id, audit) : check_restore_allowed(id, audit);
	if (request.options.rows)
		check_rows_argument(*request.options.rows);
	return backup;
}

RestoreOutcome run_restore(int64 id, AuditedAction &audit, const RestoreRequest &request) {
	if (!request.dry_run)
		return restore_with_undo(id, audit, request.options);
	RestoreOutcome preview;
	preview.tables = preview_restore(id, audit, request.options);
	return preview;
}

std::vector<RestoredTableResult> preview_restore(int64 id, AuditedAction &audit, const RestoreOptions &options) {
	if (options.rows)
		return preview_rows(id, audit, options);
	StoredBackup authorized = check_preview_allowed(id, audit);
	OpenedBackup opened = open_backup(authorized, "nothing was restored", false);
	std::vector<std::string> archived;
	for (const auto &entry :
	     tb::archive::read_archive_index(*opened.storage, opened.backup.object_name, reader_options(opened.backup)))
		archived.push_back(entry.schema + "." + entry.name);
	refuse_tables_not_in_backup(options, archived, id);
	std::vector<RestoredTableResult> results;
	compare_backup(
	    opened, nullptr, PlanPurpose::Restore,
	    [&](const RestoredTable &t, const Comparison &c) {
		    DiffCounts n = count_differences(c);
		    std::array<uint64, 4> diff{n.only_in_backup, n.only_live, n.changed, n.unchanged};
		    if (options.missing) // only what is missing comes back, if rows have a key to tell it by
			    results.push_back({t.plan.display_name, 0, n.missing_by_key, false, diff});
		    else
			    results.push_back({t.plan.display_name, n.only_live + n.changed + n.unchanged,
			                       n.only_in_backup + n.changed + n.unchanged, false, diff});
	    },
	    options.tables ? &*options.tables : nullptr, true);
	audit.ok();
	return results;
}

RestoreOutcome restore_with_undo(int64 id, AuditedAction &audit, const RestoreOptions &options) {
	if (options.rows)
		return restore_rows(id, audit, options);
	StoredBackup authorized = check_restore_allowed(id, audit);
	BackupProgress progress(id, authorized.tenant, "restore", 0);
	progress.phase("checking archive");
	OpenedBackup opened = open_backup(authorized, "nothing was restored", true);
	const StoredBackup &backup = opened.backup;
	tb::archive::ArchiveReader &reader = *opened.reader;
	progress.phase("planning");

	// Every table of the archive is planned before anything changes (its table records, read
	// through the archive's index): then the tenant's rows of tables found through foreign keys
	// are deleted deepest first, while the rows their paths go through are still there; the other
	// tables are deleted as they load. Loading is parent-first, as the backup wrote them.
	std::vector<TenantTable> now = load_tenant_tables();
	std::map<std::string, RestoredTable> planned;
	std::vector<std::string> archive_order, archived;
	std::vector<tb::archive::TableIndexEntry> entries; // in archive order
	std::vector<Oid> relids;                           // in archive order
	bool any_distributed = false;
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
		RestoredTable r{plan_table_restore(*table, id, now, options), 0};
		if (r.plan.dropped) { // kept in step with entries and relids (none: it is gone)
			archive_order.push_back(table->schema + "." + table->name);
			entries.push_back(entry);
			relids.push_back(InvalidOid);
			planned.emplace(table->schema + "." + table->name, std::move(r));
			continue;
		}
		if (std::optional<CitusTable> c = citus_table(r.plan.relid)) {
			refuse_unless_distributed_by_tenant(*c, r.plan.relid, r.plan.display_name, r.plan.tenant_column_raw,
			                                    r.plan.table.is_path(), colocation);
			r.distributed = true;
			any_distributed = true;
		}
		r.tenant =
		    tenant_datum(backup.tenant, r.plan.tenant_type, r.plan.table.tenant_value_column(), r.plan.display_name);
		// Two archived tables into one (tenant_backup.restore_renames maps one onto the other): the
		// second would delete what the first loaded.
		auto same = std::find(relids.begin(), relids.end(), r.plan.relid);
		if (same != relids.end())
			throw SqlError(ERRCODE_DUPLICATE_TABLE,
			               "tables " + archive_order[static_cast<size_t>(same - relids.begin())] + " and " +
			                   table->schema + "." + table->name + " of backup " + std::to_string(id) +
			                   " would both be restored into table " + r.plan.display_name + "; nothing was restored",
			               "", "Map only a table that no longer exists in tenant_backup.restore_renames.");
		archive_order.push_back(table->schema + "." + table->name);
		entries.push_back(entry);
		relids.push_back(r.plan.relid);
		planned.emplace(table->schema + "." + table->name, std::move(r));
	}
	refuse_tables_not_in_backup(options, archived, id);
	// Undo: the tenant as it is, backed up before anything changes, in this transaction.
	RestoreOutcome outcome;
	if (options.pre_restore.value_or(setting_pre_restore_backup())) {
		progress.phase("backing up the tenant first");
		// With Citus distributed tables, its reads leave the workers' transactions at the caller's
		// level for the DELETEs and loads that follow in them (take_backup.hpp WorkerReads).
		outcome.pre_restore_backup = take_pre_restore_backup(
		    backup.tenant, id, any_distributed ? WorkerReads::Statement : WorkerReads::OneSnapshot);
		progress.reset_counts(); // rows_done counts the restored rows
	}
	ForeignKeyChecks foreign_keys;
	std::vector<RestoredTable> restored;
	std::vector<RestoredTableResult> &results = outcome.tables;
	if (options.missing) {
		progress.set_tables_total(static_cast<int>(planned.size()));
		progress.phase("loading");
		// Parent-first, as the archive holds the tables: a deleted project comes back before its tasks.
		for (const auto &entry :
		     tb::archive::read_archive_index(*opened.storage, backup.object_name, reader_options(backup))) {
			auto found = planned.find(entry.schema + "." + entry.name);
			if (found == planned.end())
				continue;
			if (found->second.plan.dropped) {
				results.push_back({found->second.plan.display_name, 0, 0, true});
				continue;
			}
			progress.table(found->second.plan.display_name);
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
			progress_add(inserted, 0);
			results.push_back({found->second.plan.display_name, 0, inserted});
			restored.push_back(std::move(found->second));
		}
		progress.tables_finished();
		finish_restore(progress, foreign_keys, restored, backup, id, options, audit);
		return outcome;
	}
	std::map<std::string, uint64> removed_through_paths;
	std::vector<const RestoredTable *> paths;
	for (const auto &[name, r] : planned)
		if (!r.plan.dropped && r.plan.table.is_path())
			paths.push_back(&r);
	std::stable_sort(paths.begin(), paths.end(), [](const RestoredTable *a, const RestoredTable *b) {
		return a->plan.table.path.size() > b->plan.table.path.size();
	});
	progress.set_tables_total(static_cast<int>(archive_order.size()));
	progress.phase("deleting");
	for (const RestoredTable *r : paths)
		removed_through_paths[r->plan.display_name] = foreign_keys.delete_tenant_rows(*r);
	// Citus enforces foreign keys and triggers on the workers' shards whatever the coordinator's
	// session_replication_role: with distributed tables, the tables load parents first (each table
	// then read through the archive's index when that is not the archive's order), and the tenant's
	// rows of distributed tables are deleted children first, before any is loaded.
	std::vector<size_t> load_order(archive_order.size());
	for (size_t i = 0; i < load_order.size(); i++)
		load_order[i] = i;
	if (any_distributed)
		load_order = citus_load_order(relids);
	// Which tables apply differences (diff_apply.hpp); not in a restore of Citus tables, whose load
	// order and deletes follow Citus's rules (see above).
	std::map<std::string, std::optional<DiffApplyPlan>> diff_plans;
	bool any_streams = false;
	if (!any_distributed)
		for (const auto &[name, r] : planned)
			if (!r.plan.dropped) {
				diff_plans[name] = plan_diff_apply(r);
				any_streams = any_streams || (diff_plans[name] && diff_plans[name]->streams);
			}
	// Streamed tables read their archived rows ahead, each from a reader of its own, while the
	// table before loads (ArchivedReadAhead): then every table is read through the index.
	bool in_archive_order = std::is_sorted(load_order.begin(), load_order.end()) && !any_streams;
	struct ReadAhead {
		std::string key;
		std::unique_ptr<tb::archive::ArchiveReader> reader;
		tb::archive::TableHeader header;
		StreamedTable streamed;
		std::unique_ptr<ArchivedReadAhead> rows; // last: stopped before the reader closes
	};
	std::set<std::string> written_since; // (mostly_written_since)
	auto read_ahead = [&](size_t step) -> std::unique_ptr<ReadAhead> {
		if (in_archive_order || step >= load_order.size())
			return nullptr;
		const std::string &key = archive_order[load_order[step]];
		auto r = planned.find(key);
		auto d = diff_plans.find(key);
		if (r == planned.end() || d == diff_plans.end() || !d->second || !d->second->streams ||
		    !r->second.plan.mapping.conversions.empty())
			return nullptr;
		auto a = std::make_unique<ReadAhead>();
		a->key = key;
		a->reader = tb::archive::open_archive_table(*opened.storage, backup.object_name, reader_options(backup),
		                                            entries[load_order[step]]);
		std::optional<tb::archive::TableHeader> header = a->reader->next_table();
		if (!header)
			throw SqlError(ERRCODE_DATA_CORRUPTED,
			               "archive of backup " + std::to_string(id) + " is damaged: its index names a table it lacks");
		// Most of a first sample of its live rows written since the backup (their xmin says so), and
		// most of a first sample of the backup's rows differing from them (rows a restore wrote
		// back are the backup's, under new xmins): deleted and reloaded, its rows not read ahead.
		std::optional<TransactionId> before = unchanged_before(backup, *header, r->second);
		if (before && mostly_written_since(*before, r->second)) {
			auto section = tb::archive::open_archive_table(*opened.storage, backup.object_name, reader_options(backup),
			                                               entries[load_order[step]]);
			std::optional<tb::archive::TableHeader> first = section->next_table();
			if (!first)
				throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) +
				                                           " is damaged: its index names a table it lacks");
			ArchivedCopy sample(*section, *first, r->second, id, kDifferenceSampleRows);
			bool differs = sample_mostly_differs(r->second, *d->second, sample);
			sample.drop();
			if (differs) {
				written_since.insert(key);
				log_message(DEBUG1, "tenant_backup: " + r->second.plan.display_name +
				                        ": most of first samples of its rows were written since backup " +
				                        std::to_string(id) + " and differ: deleted and reloaded");
				return nullptr;
			}
		}
		a->header = *header;
		a->streamed = streamed_restore(r->second, *d->second); // the map's element: extracted, it stays
		a->rows = std::make_unique<ArchivedReadAhead>(*a->reader, a->header, a->streamed, id,
		                                              entries[load_order[step]].rows, true, before);
		return a;
	};
	std::map<std::string, uint64> removed_first;
	for (auto i = load_order.rbegin(); i != load_order.rend(); ++i)
		if (planned.at(archive_order[*i]).distributed)
			removed_first[archive_order[*i]] = foreign_keys.delete_tenant_rows(planned.at(archive_order[*i]));

	progress.phase("loading");
	std::vector<uint64> restored_rows;                     // per restored table
	std::unique_ptr<tb::archive::ArchiveReader> one_table; // out of archive order: one table at a time
	// The tables taken out of `planned`, kept whole to the end (a node keeps its element's address),
	// destroyed after any read ahead that refers to them.
	std::vector<decltype(planned)::node_type> extracted;
	std::unique_ptr<ReadAhead> next_ahead = read_ahead(0);
	for (size_t step = 0;; step++) {
		tb::archive::ArchiveReader *source = &reader;
		std::optional<tb::archive::TableHeader> table;
		std::unique_ptr<ReadAhead> ahead = std::move(next_ahead);
		if (in_archive_order) {
			table = reader.next_table();
		} else if (ahead) {
			source = ahead->reader.get();
			table = ahead->header;
		} else if (step < load_order.size()) {
			one_table = tb::archive::open_archive_table(*opened.storage, backup.object_name, reader_options(backup),
			                                            entries[load_order[step]]);
			source = one_table.get();
			table = one_table->next_table();
			if (!table)
				throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) +
				                                           " is damaged: its index names a table it lacks");
		}
		if (!table)
			break;
		auto found = planned.find(table->schema + "." + table->name);
		if (found == planned.end() && !aimed_at(options, table->schema + "." + table->name))
			continue; // not aimed at: left as it is
		if (found == planned.end())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           table->schema + "." + table->name + " is not in its index");
		std::string key = found->first;
		// Extracted, not moved: a table read ahead holds references to it.
		extracted.push_back(planned.extract(found));
		RestoredTable &r = extracted.back().mapped();
		next_ahead = read_ahead(step + 1); // while this table loads
		if (r.plan.dropped) {              // its rows are drained unread by the next next_table()
			results.push_back({r.plan.display_name, 0, 0, true});
			continue;
		}
		progress.table(r.plan.display_name);
		bool path = r.plan.table.is_path();
		// Only the differences (diff_apply.hpp): the rows removed and restored are counted as a
		// DELETE + COPY would count them, and the differences themselves too.
		std::optional<DiffApplyPlan> diff = diff_plans.count(key) ? diff_plans.at(key) : std::nullopt;
		// The table's section of the archive, read again from its start.
		auto open_section = [&] {
			auto section = tb::archive::open_archive_table(*opened.storage, backup.object_name, reader_options(backup),
			                                               entries.at(archive_position(archive_order, key)));
			std::optional<tb::archive::TableHeader> header = section->next_table();
			if (!header)
				throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) +
				                                           " is damaged: its index names a table it lacks");
			return std::make_pair(std::move(section), *header);
		};
		auto read_again = [&] {
			auto [section, header] = open_section();
			one_table = std::move(section);
			source = one_table.get();
			table = header;
		};
		if (written_since.count(key))
			diff.reset(); // deleted and reloaded
		// (A streamed comparison needs no sample: it stops early by the same rule.)
		if (diff && !diff->streams && entries.at(archive_position(archive_order, key)).rows > kDifferenceSampleRows) {
			// A sample of its first rows, from a reader of its own: `source` still starts the table.
			auto [section, header] = open_section();
			ArchivedCopy sample(*section, header, r, id, kDifferenceSampleRows);
			if (sample_mostly_differs(r, *diff, sample))
				diff.reset(); // deleted and reloaded
			sample.drop();
		}
		if (diff) {
			uint64 expected = entries.at(archive_position(archive_order, key)).rows;
			std::optional<AppliedDiff> d;
			if (diff->streams) {
				d = apply_streamed_differences(r, *diff, *source, ahead ? ahead->header : *table, backup, expected,
				                               foreign_keys, differences_worth_applying(expected),
				                               ahead ? ahead->rows.get() : nullptr);
				ahead.reset(); // (read again below, from a reader of its own, if most rows differ)
			} else {
				ArchivedCopy archived_rows(*source, *table, r, id);
				d = apply_differences(r, *diff, archived_rows, foreign_keys,
				                      differences_worth_applying(archived_rows.rows_loaded()));
				archived_rows.drop();
			}
			pg_call([] { CommandCounterIncrement(); });
			if (d) {
				progress_add(d->archived, 0);
				results.push_back({r.plan.display_name, d->removed + d->changed + d->unchanged,
				                   d->added + d->changed + d->unchanged, false,
				                   std::array<uint64, 4>{d->added, d->removed, d->changed, d->unchanged}});
				restored.push_back(std::move(r));
				restored_rows.push_back(d->archived);
				continue;
			}
			read_again(); // most rows differ: deleted and reloaded from the archive
		}
		uint64 removed = path            ? removed_through_paths[r.plan.display_name]
		                 : r.distributed ? removed_first[key]
		                                 : foreign_keys.delete_tenant_rows(r);

		// The archived fields as the table takes them now, each row checked to be the tenant's
		// (archived_tuples.hpp, column_mapping.hpp).
		ArchivedTuples archived_tuples(*source, *table, r, id);
		ProgressCount counted(archived_tuples.tuples(), archived_tuples.tenant_check());
		tb::Source &tuples = counted;
		uint64 loaded;
		if (r.distributed) {
			loaded = load_into_citus(r.plan.relid, r.plan.qualified, r.plan.load, tuples, r.plan.load.size());
		} else {
			tb::archive::CopyBinaryFrame stream(tuples);
			LoadingScope loading(r.plan.relid);
			loaded = copy_into(r.plan.relid, r.plan.load, stream);
		}
		if (loaded != source->table_rows())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           r.plan.display_name + " loaded " + std::to_string(loaded) +
			                                           " rows, the archive records " +
			                                           std::to_string(source->table_rows()));
		pg_call([] { CommandCounterIncrement(); });
		progress_add(loaded - counted.counted(), 0); // rows found through a path, and the last ones
		results.push_back({r.plan.display_name, removed, loaded});
		restored.push_back(std::move(r));
		restored_rows.push_back(loaded);
	}
	if (!planned.empty())
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
		                                           planned.begin()->first + " of its index has no section");
	progress.tables_finished();
	for (size_t i = 0; i < restored.size(); i++)
		if (restored[i].plan.table.is_path())
			ForeignKeyChecks::check_path_rows(restored[i], restored_rows[i], id);
	finish_restore(progress, foreign_keys, restored, backup, id, options, audit);
	return outcome;
}

// The last steps of every mode: foreign keys, then the sequences, and the audit.
void finish_restore(BackupProgress &progress, ForeignKeyChecks &foreign_keys,
                    const std::vector<RestoredTable> &restored, const StoredBackup &backup, int64 id,
                    const RestoreOptions &options, AuditedAction &audit) {
	progress.phase("checking foreign keys");
	foreign_keys.check(restored, id,
	                   options.rows     ? ForeignKeyChecks::Aim::Rows
	                   : options.tables ? ForeignKeyChecks::Aim::Tables
	                                    : ForeignKeyChecks::Aim::Whole);
	// The very last step, after every check: what the sequences must be past, bounded, moved at commit.
	std::vector<SequenceMove> moves;
	for (const auto &r : restored)
		for (const auto &m : plan_sequence_moves(r, id))
			moves.push_back(m);
	advance_sequences_at_commit(moves, id, backup.tenant);
	audit.ok();
}

} // namespace tb::pg
