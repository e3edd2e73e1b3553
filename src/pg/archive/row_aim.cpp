#include "pg/archive/row_aim.hpp"

#include "core/archive/archive_reader.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/citus_tables.hpp"
#include "pg/archive/diff_engine.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/archive/sequences.hpp"
#include "pg/archive/take_backup.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"
#include "pg/catalog/read_privileges.hpp"
#include "pg/shared_memory/progress.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace tb::pg {

namespace {

const char *const kConsequence = "nothing was restored";

int keys_table_counter = 0;

// One table the selection reaches, in the archive's order.
struct SelectedTable {
	RestoredTable table;
	archive::TableIndexEntry entry;
	std::string archived_name;          // schema.name in the archive
	std::unique_ptr<ArchivedCopy> copy; // the backup's rows
	RowKey key;                         // how its rows are selected; no columns: by what they reference
	std::string keys;                   // pg_temp table of the selected keys ("" without a key)
	std::vector<std::pair<const ForeignKey *, size_t>> parents; // its keys to selected tables (index)
	bool named = false;
};

enum class Side { Backup, Now };

struct Selection {
	OpenedBackup opened;
	std::unique_ptr<DiffSnapshot> snapshot; // a preview's reads of the tenant's rows
	std::vector<ForeignKey> foreign_keys;   // between the tables of the backup
	std::vector<SelectedTable> tables;      // the selection's, in the archive's order
};

std::string quoted_list(const std::vector<std::string> &columns, const std::string &alias) {
	return join_each(columns, ", ", [&](size_t i) { return alias + quoted_ident(columns[i]); });
}

// The rows of one side of a table, as "(SELECT ...) x" of its archived copy's columns.
RowSet side_rows(const SelectedTable &t, Side side) {
	return side == Side::Backup ? t.copy->rows(t.copy->columns()) : live_rows(t.table, t.copy->columns());
}

std::string same_key(const SelectedTable &t, const std::string &a, const std::string &b) {
	return join_each(t.key.columns, " AND ", [&](size_t i) {
		return a + "." + quoted_ident(t.key.columns[i]) + t.key.equals[i] + b + "." + quoted_ident(t.key.columns[i]);
	});
}

// Whether the row `alias` of table `t` (on `side`) is selected: its key is a selected key; or, for
// a table without a key, it references a selected row of the same side.
std::string selected(const std::vector<SelectedTable> &all, const SelectedTable &t, Side side,
                     const std::string &alias) {
	if (!t.keys.empty())
		return "EXISTS (SELECT 1 FROM pg_temp." + t.keys + " k WHERE " + same_key(t, "k", alias) + ")";
	std::string any;
	for (const auto &[fk, p] : t.parents) {
		const SelectedTable &parent = all[p];
		if (parent.keys.empty())
			continue; // the selection does not grow through a table without a key
		any += (any.empty() ? "" : " OR ") + std::string("EXISTS (SELECT 1 FROM (SELECT x.* FROM ") +
		       side_rows(parent, side) + ") p WHERE " + selected(all, parent, side, "p") + " AND " +
		       key_match(*fk, "p", alias, fk->child_cols) + ")";
	}
	return any.empty() ? "false" : "(" + any + ")";
}

uint64 run(const std::string &sql, const SqlParams &params, int expected) {
	const char *q = sql.c_str();
	return pg_eval([&] { return spi_run(q, params, false, expected); });
}

uint64 count_of(const std::string &sql, const SqlParams &params) {
	const char *q = sql.c_str();
	return pg_eval([&] {
		spi_run(q, params, false, SPI_OK_SELECT);
		bool isnull;
		Datum d = spi_datum(0, 1, &isnull);
		return isnull ? uint64{0} : static_cast<uint64>(DatumGetInt64(d));
	});
}

SqlParams tenant_of(const SelectedTable &t) {
	return SqlParams().datum(t.table.plan.tenant_type, t.table.tenant);
}

// The tables rows => names, and each one's array (validated: an object of arrays).
std::vector<std::string> requested_tables(const std::string &json) {
	auto type = spi_query("SELECT pg_catalog.jsonb_typeof($1::pg_catalog.jsonb)", {json});
	if (type.empty() || !type[0][0] || *type[0][0] != "object")
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "rows must be a jsonb object; nothing was restored", "",
		               "For example rows => '{\"public.invoices\": [{\"id\": 17}]}': per table, the primary-key "
		               "values of its rows.");
	std::vector<std::string> names;
	for (const auto &row : spi_query("SELECT e.key, pg_catalog.jsonb_typeof(e.value) FROM "
	                                 "pg_catalog.jsonb_each($1::pg_catalog.jsonb) e ORDER BY 1",
	                                 {json})) {
		if (*row[1] != "array")
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "rows for table " + *row[0] + " must be a jsonb array of keys; nothing was restored", "",
			               "For example [{\"id\": 17}, {\"id\": 18}].");
		names.push_back(*row[0]);
	}
	if (names.empty())
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "rows must name at least one table", "",
		               "Leave it out (NULL) to restore every row of the backup.");
	return names;
}

// The keys rows => gives for table `t` (its object member `name`): each an object of exactly the
// key's columns, each value a string, number or boolean; into t's temporary table of keys,
// converted to the columns' types. Returns how many keys it gives.
uint64 load_requested_keys(const std::string &json, const std::string &name, const SelectedTable &t) {
	std::set<std::string> want(t.key.columns.begin(), t.key.columns.end());
	std::string describe =
	    "{" + join_each(t.key.columns, ", ", [&](size_t i) { return "\"" + t.key.columns[i] + "\": ..."; }) + "}";
	auto rows = spi_query(
	    "SELECT e.ord::pg_catalog.text, pg_catalog.jsonb_typeof(e.v), f.key, pg_catalog.jsonb_typeof(f.value) "
	    "FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb OPERATOR(pg_catalog.->) $2) WITH ORDINALITY "
	    "e(v, ord) LEFT JOIN LATERAL pg_catalog.jsonb_each(CASE WHEN pg_catalog.jsonb_typeof(e.v) "
	    "OPERATOR(pg_catalog.=) 'object' THEN e.v END) f ON true ORDER BY e.ord, f.key",
	    {json, name});
	auto refuse = [&](const std::string &ord, const std::string &why) {
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
		               "key " + ord + " of rows for table " + name + " " + why + "; nothing was restored",
		               "The rows of " + t.table.plan.display_name + " are named by their " + t.key.matched_by + ": " +
		                   describe + ", each value a JSON string, number or boolean.");
	};
	std::map<std::string, std::set<std::string>> given; // per element: its keys
	for (const auto &row : rows) {
		if (*row[1] != "object")
			refuse(*row[0], "is not a jsonb object");
		if (!row[2]) // an empty object
			refuse(*row[0], "names no column");
		if (*row[3] != "string" && *row[3] != "number" && *row[3] != "boolean")
			refuse(*row[0], "gives column " + *row[2] + " a JSON " + *row[3]);
		if (!want.count(*row[2]))
			refuse(*row[0], "names column " + *row[2] + ", which is not a column of the table's " + t.key.matched_by);
		given[*row[0]].insert(*row[2]);
	}
	for (const auto &[ord, columns] : given)
		if (columns != want)
			refuse(ord, "lacks a column of the table's " + t.key.matched_by);
	if (rows.empty())
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
		               "rows for table " + name + " names no row; nothing was restored", "",
		               "Give the " + t.key.matched_by + " of each row: [" + describe + "].");
	// Converted by the columns' types' input functions: as the table's owner when a superuser restores.
	std::string sql = "INSERT INTO pg_temp." + t.keys +
	                  " SELECT * FROM pg_catalog.jsonb_populate_recordset(NULL::pg_temp." + t.keys +
	                  ", $1::pg_catalog.jsonb OPERATOR(pg_catalog.->) $2)";
	AsTableOwner owner(t.table.plan.relid);
	return run(sql, SqlParams().text(json).text(name), SPI_OK_INSERT);
}

// The temporary table of a table's selected keys, shaped as its key columns (owned by whoever
// restores: the table's owner when a superuser does).
std::string keys_table(const SelectedTable &t) {
	std::string name = "tenant_backup_rows_" + std::to_string(++keys_table_counter);
	std::string sql = "CREATE TEMP TABLE pg_temp." + name + " ON COMMIT DROP AS SELECT " +
	                  quoted_list(t.key.columns, "ch.") + " FROM " +
	                  scan_of(t.table.plan.relkind, t.table.plan.qualified) + " ch WITH NO DATA";
	AsTableOwner owner(t.table.plan.relid, AsTableOwner::Mode::Plain);
	run(sql, SqlParams::none(), SPI_OK_UTILITY);
	return name;
}

// The key a table's rows are selected by: its primary key, else a unique key without NULLs.
RowKey selection_key(const SelectedTable &t) {
	RowKey key = choose_row_key(t.table.plan.relid, t.copy->columns());
	if (key.nullable)
		key.columns.clear();
	return key;
}

// Plans every table of the backup (the restore's planner), finds the tables rows => names and the
// tables that reference them, loads their archived rows and selects the rows.
Selection select_rows(const StoredBackup &authorized, const RestoreOptions &options, bool exclusive, bool preview) {
	int64 id = authorized.id;
	std::string backup = "backup " + std::to_string(id);
	if (options.tables)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
		               "rows => and tables => cannot be combined; nothing was restored", "",
		               "Name the rows of each table in rows =>: the rows that reference them come with them.");
	std::vector<std::string> requested = requested_tables(*options.rows);
	Selection s{open_backup(authorized, kConsequence, exclusive), nullptr, {}, {}};
	if (preview)
		s.snapshot = std::make_unique<DiffSnapshot>(); // the tenant's rows as of the call
	const OpenedBackup &b = s.opened;
	std::vector<TenantTable> now = load_tenant_tables();
	std::vector<SelectedTable> planned;
	std::vector<std::string> dropped;
	for (const auto &entry : archive::read_archive_index(*b.storage, b.backup.object_name, reader_options(b.backup))) {
		std::unique_ptr<archive::ArchiveReader> one =
		    archive::open_archive_table(*b.storage, b.backup.object_name, reader_options(b.backup), entry);
		std::optional<archive::TableHeader> table = one->next_table();
		if (!table)
			throw SqlError(ERRCODE_DATA_CORRUPTED,
			               "archive of " + backup + " is damaged: its index names a table it lacks");
		SelectedTable t;
		t.table = RestoredTable{plan_table_restore(*table, id, now, options), 0};
		t.entry = entry;
		t.archived_name = table->schema + "." + table->name;
		if (t.table.plan.dropped) {
			dropped.push_back(t.archived_name);
			continue;
		}
		t.table.tenant = tenant_datum(b.backup.tenant, t.table.plan.tenant_type,
		                              t.table.plan.table.tenant_value_column(), t.table.plan.display_name);
		planned.push_back(std::move(t));
	}
	// The tables named, by their names in the archive or now; no text of the caller becomes SQL.
	std::map<std::string, std::string> named; // planned table (archived name) -> the name rows => used
	for (const auto &name : requested) {
		auto found = std::find_if(planned.begin(), planned.end(), [&](const SelectedTable &t) {
			return t.archived_name == name || t.table.plan.display_name == name;
		});
		if (found == planned.end())
			throw SqlError(
			    ERRCODE_INVALID_PARAMETER_VALUE,
			    "table " + name + " of rows => is not a table of " + backup +
			        (std::find(dropped.begin(), dropped.end(), name) != dropped.end() ? " that still exists" : "") +
			        "; " + kConsequence,
			    "", "Name tables as schema.name; tenant_backup.backup_diff(id) lists the backup's tables.");
		if (!named.emplace(found->archived_name, name).second)
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "rows => names table " + found->table.plan.display_name +
			                                                    " twice (as " + named.at(found->archived_name) +
			                                                    " and " + name + "); " + kConsequence);
	}
	// The foreign keys between the backup's tables; the selection grows from child to child.
	std::string oids = join_each(std::vector<std::string>(planned.size()), ",",
	                             [&](size_t i) { return std::to_string(planned[i].table.plan.relid); });
	s.foreign_keys = load_foreign_keys("c.conrelid IN (" + oids + ") AND c.confrelid IN (" + oids + ")");
	std::set<Oid> reached;
	for (const auto &t : planned)
		if (named.count(t.archived_name))
			reached.insert(t.table.plan.relid);
	for (bool grew = true; grew;) {
		grew = false;
		for (const auto &fk : s.foreign_keys)
			if (reached.count(fk.parent) && reached.insert(fk.child).second)
				grew = true;
	}
	for (auto &t : planned)
		if (reached.count(t.table.plan.relid))
			s.tables.push_back(std::move(t));
	auto index_of = [&](Oid relid) {
		for (size_t i = 0; i < s.tables.size(); i++)
			if (s.tables[i].table.plan.relid == relid)
				return i;
		return s.tables.size();
	};
	for (auto &t : s.tables) {
		if (citus_table(t.table.plan.relid))
			throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
			               "rows => cannot restore Citus table " + t.table.plan.display_name + "; " + kConsequence, "",
			               "Restore the whole backup, or its tables (tables =>).");
		for (const auto &fk : s.foreign_keys)
			if (fk.child == t.table.plan.relid && index_of(fk.parent) < s.tables.size())
				t.parents.push_back({&fk, index_of(fk.parent)});
		t.named = named.count(t.archived_name) > 0;
	}
	// The backup's rows of those tables, through the restore's own checks (tenant, drift).
	for (auto &t : s.tables) {
		std::unique_ptr<archive::ArchiveReader> one =
		    archive::open_archive_table(*b.storage, b.backup.object_name, reader_options(b.backup), t.entry);
		std::optional<archive::TableHeader> table = one->next_table();
		if (!table)
			throw SqlError(ERRCODE_DATA_CORRUPTED,
			               "archive of " + backup + " is damaged: its index names a table it lacks");
		t.copy = std::make_unique<ArchivedCopy>(*one, *table, t.table, id);
		t.key = selection_key(t);
		if (!t.key.columns.empty())
			t.keys = keys_table(t);
		else if (t.named)
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "table " + t.table.plan.display_name +
			                   " has no primary key (nor a unique key without NULLs) "
			                   "to name its rows by; " +
			                   kConsequence,
			               "", "Restore the table (tables =>), or give it a primary key.");
	}
	// The keys named; those that match no row on either side change nothing: said so.
	for (auto &t : s.tables) {
		if (!t.named)
			continue;
		uint64 given = load_requested_keys(*options.rows, named.at(t.archived_name), t);
		uint64 unmatched = count_of("SELECT pg_catalog.count(*) FROM pg_temp." + t.keys +
		                                " k WHERE NOT EXISTS "
		                                "(SELECT 1 FROM " +
		                                side_rows(t, Side::Backup) + " WHERE " + same_key(t, "k", "x") +
		                                ") AND NOT EXISTS (SELECT 1 FROM " + side_rows(t, Side::Now) + " WHERE " +
		                                same_key(t, "k", "x") + ")",
		                            tenant_of(t));
		if (unmatched > 0)
			warn(std::to_string(unmatched) + " of the " + std::to_string(given) + " key(s) rows => gives for table " +
			         t.table.plan.display_name +
			         " match no row of the tenant, in the backup or now; they change nothing",
			     "The rows of " + t.table.plan.display_name + " are named by their " + t.key.matched_by + ".");
	}
	// Then every row that references a selected row, on its side, until none is added.
	for (bool grew = true; grew;) {
		grew = false;
		for (auto &t : s.tables) {
			if (t.keys.empty())
				continue;
			for (const auto &[fk, p] : t.parents) {
				const SelectedTable &parent = s.tables[p];
				if (parent.keys.empty())
					continue;
				for (Side side : {Side::Backup, Side::Now}) {
					std::string present = join_each(t.key.columns, " AND ", [&](size_t i) {
						return "x." + quoted_ident(t.key.columns[i]) + " IS NOT NULL";
					});
					std::string sql =
					    "INSERT INTO pg_temp." + t.keys + " SELECT " + quoted_list(t.key.columns, "x.") + " FROM " +
					    side_rows(t, side) + " WHERE " + present + " AND EXISTS (SELECT 1 FROM (SELECT x.* FROM " +
					    side_rows(parent, side) + ") p WHERE " + selected(s.tables, parent, side, "p") + " AND " +
					    key_match(*fk, "p", "x", fk->child_cols) + ") AND NOT EXISTS (SELECT 1 FROM pg_temp." + t.keys +
					    " k WHERE " + same_key(t, "k", "x") + ")";
					if (run(sql, tenant_of(t), SPI_OK_INSERT) > 0)
						grew = true;
				}
			}
		}
	}
	return s;
}

// Rows of a table found through foreign keys have no tenant column to check as they load: every
// archived row the selection inserts must reach the tenant through its path (its parents are
// inserted or kept before it). Checked before it is inserted.
void refuse_rows_outside_tenant(const SelectedTable &t, const std::string &inserted, int64 id) {
	if (!t.table.plan.table.is_path())
		return;
	uint64 outside = count_of("SELECT pg_catalog.count(*) FROM " + t.copy->rows(t.copy->columns()) + " WHERE " +
	                              inserted + " AND NOT " + t.table.plan.table.reaches_tenant_sql("x"),
	                          tenant_of(t));
	if (outside > 0)
		throw SqlError(ERRCODE_FOREIGN_KEY_VIOLATION,
		               "restoring backup " + std::to_string(id) + " would leave " + std::to_string(outside) +
		                   " row(s) of table " + t.table.plan.display_name + " outside the tenant; " + kConsequence,
		               "Its rows belong to the tenant through " + t.table.plan.table.steps.front().constraint +
		                   ", and the rows they reference there are not the tenant's after the restore.",
		               "Add the rows they reference to rows =>.");
}

} // namespace

void check_rows_argument(const std::string &rows) {
	requested_tables(rows);
}

RestoreOutcome restore_rows(int64 id, AuditedAction &audit, const RestoreOptions &options) {
	StoredBackup authorized = check_restore_allowed(id, audit);
	BackupProgress progress(id, authorized.tenant, "restore", 0);
	progress.phase("planning");
	Selection s = select_rows(authorized, options, true, false);
	const StoredBackup &backup = s.opened.backup;
	RestoreOutcome outcome;
	if (options.pre_restore.value_or(setting_pre_restore_backup())) {
		progress.phase("backing up the tenant first");
		// Rows => refuses Citus tables (select_rows): no worker is written after it reads.
		outcome.pre_restore_backup = take_pre_restore_backup(backup.tenant, id, WorkerReads::OneSnapshot);
		progress.reset_counts();
	}
	progress.set_tables_total(static_cast<int>(s.tables.size()));
	ForeignKeyChecks foreign_keys;
	std::vector<uint64> removed(s.tables.size(), 0);
	if (!options.missing) {
		progress.phase("deleting");
		// Children first: the rows a path or a selection goes through are still there.
		for (size_t i = s.tables.size(); i-- > 0;)
			removed[i] =
			    foreign_keys.delete_tenant_rows(s.tables[i].table, selected(s.tables, s.tables[i], Side::Now, "ch"));
	}
	progress.phase("loading");
	std::vector<RestoredTable> restored;
	for (size_t i = 0; i < s.tables.size(); i++) { // parents first
		const SelectedTable &t = s.tables[i];
		progress.table(t.table.plan.display_name);
		std::string inserted = selected(s.tables, t, Side::Backup, "x");
		refuse_rows_outside_tenant(t, inserted, id);
		uint64 loaded;
		if (options.missing) {
			loaded = insert_missing(t.table, *t.copy, inserted);
		} else {
			const std::vector<std::string> &columns = t.copy->columns();
			std::string sql = "INSERT INTO " + t.table.plan.qualified + " (" + quoted_list(columns, "") + ") SELECT " +
			                  quoted_list(columns, "x.") + " FROM " + t.copy->rows(columns) + " WHERE " + inserted;
			LoadingScope loading(t.table.plan.relid);
			loaded = run(sql, tenant_of(t), SPI_OK_INSERT);
		}
		pg_call([] { CommandCounterIncrement(); });
		progress_add(loaded, 0);
		outcome.tables.push_back({t.table.plan.display_name, removed[i], loaded});
		restored.push_back(t.table);
	}
	progress.tables_finished();
	finish_restore(progress, foreign_keys, restored, backup, id, options, audit);
	return outcome;
}

std::vector<RestoredTableResult> preview_rows(int64 id, AuditedAction &audit, const RestoreOptions &options) {
	StoredBackup authorized = check_preview_allowed(id, audit);
	Selection s = select_rows(authorized, options, false, true);
	std::vector<RestoredTableResult> results;
	for (const auto &t : s.tables) {
		Comparison c;
		c.relid = t.table.plan.relid;
		c.columns = t.copy->columns();
		c.backup = "(SELECT x.* FROM " + side_rows(t, Side::Backup) + " WHERE " +
		           selected(s.tables, t, Side::Backup, "x") + ") x";
		c.now =
		    "(SELECT x.* FROM " + side_rows(t, Side::Now) + " WHERE " + selected(s.tables, t, Side::Now, "x") + ") x";
		c.key = choose_row_key(t.table.plan.relid, c.columns);
		c.tenant_type = t.table.plan.tenant_type;
		c.tenant = t.table.tenant;
		c.snapshot = s.snapshot.get();
		DiffCounts n = count_differences(c);
		std::array<uint64, 4> diff{n.only_in_backup, n.only_live, n.changed, n.unchanged};
		if (options.missing)
			results.push_back({t.table.plan.display_name, 0, n.missing_by_key, false, diff});
		else
			results.push_back({t.table.plan.display_name, n.only_live + n.changed + n.unchanged,
			                   n.only_in_backup + n.changed + n.unchanged, false, diff});
	}
	audit.ok();
	return results;
}

} // namespace tb::pg
