#include "pg/archive/diff_engine.hpp"

#include "pg/archive/archived_tuples.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/archive/streamed_diff.hpp"
#include "pg/archive/unchanged_rows.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/search_path.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <memory>

namespace tb::pg {

namespace {

int diff_table_counter = 0;

std::string quoted_list(const std::vector<std::string> &columns, const std::string &alias) {
	return join_each(columns, ", ", [&](size_t i) { return alias + quoted_ident(columns[i]); });
}

// One side of a comparison (alias x inside): its key columns as k0, k1, ...; p, true for every
// row (NULL on the missing side of an outer join); r, the row: a row value compared by
// rows_differ when rows match by key, else as text (grouped and joined as a multiset: exactly
// the values a restore writes); j, the row as jsonb. `where`: which rows (" WHERE ..." or "").
std::string side(const Comparison &c, const RowSet &rows, bool json, const std::string &where, bool as_text) {
	std::string keys;
	for (size_t i = 0; i < c.key.columns.size(); i++)
		keys += "x." + quoted_ident(c.key.columns[i]) + " AS k" + std::to_string(i) + ", ";
	return "SELECT " + keys + "true AS p, ROW(" + quoted_list(c.columns, "x.") + ")" +
	       (as_text ? "::pg_catalog.text" : "") + " AS r" + (json ? ", pg_catalog.to_jsonb(x) AS j" : "") + " FROM " +
	       rows + where;
}

std::string keys_present(const Comparison &c) {
	if (!c.key.nullable)
		return "";
	return " WHERE " + join_each(c.key.columns, " AND ",
	                             [&](size_t i) { return "x." + quoted_ident(c.key.columns[i]) + " IS NOT NULL"; });
}

// The rows matched as whole rows: every row without a key, those with a NULL in a unique key.
bool has_whole_rows(const Comparison &c) {
	return c.key.columns.empty() || c.key.nullable;
}

std::string whole_rows(const Comparison &c) {
	if (c.key.columns.empty())
		return "";
	return " WHERE " + join_each(c.key.columns, " OR ",
	                             [&](size_t i) { return "x." + quoted_ident(c.key.columns[i]) + " IS NULL"; });
}

std::string keyed_join(const Comparison &c, bool json) {
	return " FROM (" + side(c, c.backup, json, keys_present(c), false) + ") a FULL JOIN (" +
	       side(c, c.now, json, keys_present(c), false) + ") l ON " + join_each(c.key.columns, " AND ", [&](size_t i) {
		       std::string k = "k" + std::to_string(i);
		       return "a." + k + c.key.equals[i] + "l." + k;
	       });
}

// Whole rows, counted per distinct row on each side (a multiset).
std::string multiset_join(const Comparison &c, bool json) {
	std::string group = json ? "r, j" : "r";
	return " FROM (SELECT " + group + ", pg_catalog.count(*) AS n FROM (" +
	       side(c, c.backup, json, whole_rows(c), true) + ") s GROUP BY " + group + ") a FULL JOIN (SELECT " + group +
	       ", pg_catalog.count(*) AS n FROM (" + side(c, c.now, json, whole_rows(c), true) + ") s GROUP BY " + group +
	       ") l ON a.r" + kEq + "l.r";
}

// Runs a query of the comparison under its snapshot (read_only: no new snapshot is taken), with
// the tenant as $1. Returns the rows, in SPI_tuptable until the next statement.
uint64 run_compare(const Comparison &c, const std::string &sql, long max_rows) {
	const char *q = sql.c_str();
	SqlParams params = SqlParams().datum(c.tenant_type, c.tenant);
	Snapshot snapshot = c.snapshot->snapshot();
	NoMergeJoins by_tenant_rows;
	return pg_eval([&] {
		PushCopiedSnapshot(snapshot);
		UpdateActiveSnapshotCommandId(); // the temporary tables' rows, loaded by this transaction
		uint64 n = spi_run(q, params, true, SPI_OK_SELECT, max_rows);
		PopActiveSnapshot();
		return n;
	});
}

uint64 int8_at(uint64 row, int col) {
	return pg_eval([=] {
		bool isnull;
		Datum d = spi_datum(row, col, &isnull);
		return isnull ? uint64{0} : static_cast<uint64>(DatumGetInt64(d));
	});
}

std::optional<std::string> text_at(uint64 row, int col) {
	const char *v = pg_eval([=] { return static_cast<const char *>(spi_text(row, col)); });
	if (!v)
		return std::nullopt;
	return std::string(v);
}

} // namespace

RowKey choose_row_key(Oid relid, const std::vector<std::string> &columns) {
	// Unique indexes only use btree; each column's equality is its operator class's.
	auto rows = spi_query(
	    "SELECT i.indexrelid::pg_catalog.text, i.indisprimary, a.attname::pg_catalog.text, "
	    "pg_catalog.format('OPERATOR(%I.%s)', ns.nspname, o.oprname), a.attnotnull "
	    "FROM pg_catalog.pg_index i CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]), "
	    "pg_catalog.unnest(i.indclass::pg_catalog.oid[])) WITH ORDINALITY AS k(attnum, opclass, ord) "
	    "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	    "AND a.attnum OPERATOR(pg_catalog.=) k.attnum "
	    "JOIN pg_catalog.pg_opclass oc ON oc.oid OPERATOR(pg_catalog.=) k.opclass "
	    "JOIN pg_catalog.pg_amop ao ON ao.amopfamily OPERATOR(pg_catalog.=) oc.opcfamily "
	    "AND ao.amoplefttype OPERATOR(pg_catalog.=) oc.opcintype AND ao.amoprighttype OPERATOR(pg_catalog.=) "
	    "oc.opcintype AND ao.amopstrategy OPERATOR(pg_catalog.=) 3 AND ao.amopmethod OPERATOR(pg_catalog.=) "
	    "oc.opcmethod "
	    "JOIN pg_catalog.pg_operator o ON o.oid OPERATOR(pg_catalog.=) ao.amopopr "
	    "JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) o.oprnamespace "
	    "WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND i.indisunique AND i.indisvalid "
	    "AND i.indexprs IS NULL AND i.indpred IS NULL AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts "
	    "ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid, k.ord",
	    {std::to_string(relid)});
	for (size_t start = 0; start < rows.size();) {
		size_t end = start;
		while (end < rows.size() && *rows[end][0] == *rows[start][0])
			end++;
		RowKey key;
		key.matched_by = *rows[start][1] == "t" ? "primary key" : "unique key";
		bool usable = true;
		for (size_t r = start; r < end; r++) {
			if (std::find(columns.begin(), columns.end(), *rows[r][2]) == columns.end())
				usable = false;
			key.columns.push_back(*rows[r][2]);
			key.equals.push_back(" " + *rows[r][3] + " ");
			if (*rows[r][4] != "t")
				key.nullable = true;
		}
		if (usable)
			return key;
		start = end;
	}
	RowKey none;
	none.matched_by = "whole row";
	return none;
}

RowSet live_rows(const RestoredTable &table, const std::vector<std::string> &columns) {
	return "(SELECT " + quoted_list(columns, "ch.") + table.plan.table.tenant_rows_sql() + ") x";
}

ArchivedCopy::ArchivedCopy(archive::ArchiveReader &reader, const archive::TableHeader &table,
                           const RestoredTable &restored, int64 backup_id, uint64 first_rows)
    : columns_(restored.plan.load), owner_table_(restored.plan.relid) {
	const TableRestorePlan &plan = restored.plan;
	name_ = "tenant_backup_diff_" + std::to_string(++diff_table_counter);
	// Shaped as the table now (types, typmods, collations), without its constraints or defaults.
	std::string create = "CREATE TEMP TABLE pg_temp." + name_ + " ON COMMIT DROP AS SELECT " +
	                     quoted_list(columns_, "ch.") + " FROM " + scan_of(plan.relkind, plan.qualified) +
	                     " ch WITH NO DATA";
	const char *q = create.c_str();
	Oid temp;
	{
		// Owned by whoever loads it, as a restore's own temporary tables; runs no user code.
		AsTableOwner owner(plan.relid, AsTableOwner::Mode::Plain);
		std::string lookup = name_;
		temp = pg_eval([q, &lookup] {
			spi_run(q, SqlParams::none(), false, SPI_OK_UTILITY);
			return RangeVarGetRelid(makeRangeVar(pstrdup("pg_temp"), pstrdup(lookup.c_str()), -1), NoLock, false);
		});
	}
	ArchivedTuples tuples(reader, table, restored, backup_id);
	{
		// Decoding a domain's values runs its CHECK constraints: as the table's owner, as a restore.
		AsTableOwner owner(plan.relid);
		if (first_rows) {
			archive::TupleBatches first(tuples.tuples(), columns_.size(), first_rows);
			first.next_batch();
			archive::CopyBinaryFrame frame(first);
			loaded_ = copy_into(temp, columns_, frame);
		} else {
			loaded_ = copy_into(temp, columns_, tuples.copy_stream());
		}
	}
	if (!first_rows && loaded_ != reader.table_rows())
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(backup_id) +
		                                           " is damaged: table " + plan.display_name + " loaded " +
		                                           std::to_string(loaded_) + " rows, the archive records " +
		                                           std::to_string(reader.table_rows()));
	pg_call([] { CommandCounterIncrement(); });
}

RowSet ArchivedCopy::rows(const std::vector<std::string> &columns, bool none) const {
	return "(SELECT " + quoted_list(columns, "t.") + " FROM pg_temp." + name_ + " t" + (none ? " WHERE false" : "") +
	       ") x";
}

void ArchivedCopy::drop() {
	std::string sql = "DROP TABLE IF EXISTS pg_temp." + name_;
	const char *q = sql.c_str();
	AsTableOwner owner(owner_table_, AsTableOwner::Mode::Plain);
	pg_call([q] { spi_run(q, SqlParams::none(), false, SPI_OK_UTILITY); });
}

NoMergeJoins::NoMergeJoins() : exceptions_at_entry_(std::uncaught_exceptions()) {
	guc_level_ = pg_eval([] {
		int level = NewGUCNestLevel();
		set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		return level;
	});
}

NoMergeJoins::~NoMergeJoins() {
	end_guc_level(guc_level_, exceptions_at_entry_);
}

DiffSnapshot::DiffSnapshot() {
	snapshot_ = pg_eval([] { return RegisterSnapshot(GetTransactionSnapshot()); });
}

DiffSnapshot::~DiffSnapshot() {
	Snapshot s = snapshot_;
	try {
		pg_call([s] { UnregisterSnapshot(s); });
	} catch (...) {
		// An error ends the transaction, whose resource owner releases the snapshot anyway.
	}
}

std::string rows_differ(const std::string &a, const std::string &b) {
	return "(NOT " + a + " OPERATOR(pg_catalog.*=) " + b + ")";
}

std::vector<std::string> common_columns(const std::vector<std::string> &a, const std::vector<std::string> &b) {
	std::vector<std::string> both;
	for (const auto &c : a)
		if (std::find(b.begin(), b.end(), c) != b.end())
			both.push_back(c);
	return both;
}

DiffCounts count_differences(const Comparison &c) {
	if (c.streamed_counts)
		return c.streamed_counts();
	DiffCounts counts;
	if (!c.key.columns.empty()) {
		run_compare(c,
		            "SELECT pg_catalog.count(*) FILTER (WHERE l.p IS NULL), pg_catalog.count(*) FILTER (WHERE a.p "
		            "IS NULL), pg_catalog.count(*) FILTER (WHERE a.p AND l.p AND " +
		                rows_differ("a.r", "l.r") + "), pg_catalog.count(*) FILTER (WHERE a.p AND l.p AND NOT " +
		                rows_differ("a.r", "l.r") + ")" + keyed_join(c, false),
		            0);
		counts.only_in_backup += int8_at(0, 1);
		counts.missing_by_key = counts.only_in_backup;
		counts.only_live += int8_at(0, 2);
		counts.changed += int8_at(0, 3);
		counts.unchanged += int8_at(0, 4);
	}
	if (has_whole_rows(c)) {
		run_compare(c,
		            "SELECT pg_catalog.sum(GREATEST(coalesce(a.n, 0) - coalesce(l.n, 0), 0))::pg_catalog.int8, "
		            "pg_catalog.sum(GREATEST(coalesce(l.n, 0) - coalesce(a.n, 0), 0))::pg_catalog.int8, "
		            "pg_catalog.sum(LEAST(coalesce(a.n, 0), coalesce(l.n, 0)))::pg_catalog.int8" +
		                multiset_join(c, false),
		            0);
		counts.only_in_backup += int8_at(0, 1);
		counts.only_live += int8_at(0, 2);
		counts.unchanged += int8_at(0, 3);
	}
	return counts;
}

uint64 list_differences(const Comparison &c, int64 limit, const std::function<void(const DiffRow &)> &emit) {
	std::vector<DiffRow> found;
	auto collect = [&](uint64 n) {
		for (uint64 r = 0; r < n; r++)
			found.push_back({*text_at(r, 1), text_at(r, 2), text_at(r, 3), text_at(r, 4)});
	};
	if (limit > 0 && !c.key.columns.empty()) {
		std::string keys_a, keys_l;
		for (size_t i = 0; i < c.key.columns.size(); i++) {
			const char *name = c.key.columns[i].c_str();
			std::string literal = pg_eval([name] { return static_cast<const char *>(quote_literal_cstr(name)); });
			keys_a += (i ? ", " : "") + literal + ", a.k" + std::to_string(i);
			keys_l += (i ? ", " : "") + literal + ", l.k" + std::to_string(i);
		}
		collect(
		    run_compare(c,
		                "SELECT d.kind, d.key::pg_catalog.text, d.before::pg_catalog.text, d.after::pg_catalog.text "
		                "FROM (SELECT CASE WHEN l.p IS NULL THEN 'only_in_backup' WHEN a.p IS NULL THEN 'only_live' "
		                "ELSE 'changed' END AS kind, CASE WHEN a.p THEN pg_catalog.jsonb_build_object(" +
		                    keys_a + ") ELSE pg_catalog.jsonb_build_object(" + keys_l +
		                    ") END AS key, l.j AS before, a.j AS after" + keyed_join(c, true) +
		                    " WHERE a.p IS NULL OR l.p IS NULL OR " + rows_differ("a.r", "l.r") +
		                    ") d ORDER BY d.kind, d.key "
		                    "LIMIT " +
		                    std::to_string(limit),
		                limit));
	}
	int64 left = limit - static_cast<int64>(found.size());
	if (left > 0 && has_whole_rows(c))
		collect(run_compare(
		    c,
		    "SELECT CASE WHEN coalesce(a.n, 0) OPERATOR(pg_catalog.>) coalesce(l.n, 0) THEN "
		    "'only_in_backup' ELSE 'only_live' END, NULL::pg_catalog.text, CASE WHEN coalesce(a.n, 0) "
		    "OPERATOR(pg_catalog.<) coalesce(l.n, 0) THEN l.j::pg_catalog.text END, CASE WHEN coalesce(a.n, "
		    "0) OPERATOR(pg_catalog.>) coalesce(l.n, 0) THEN a.j::pg_catalog.text END" +
		        multiset_join(c, true) +
		        " CROSS JOIN LATERAL pg_catalog.generate_series(1, pg_catalog.abs(coalesce(a.n, 0) "
		        "OPERATOR(pg_catalog.-) coalesce(l.n, 0))) g WHERE coalesce(a.n, 0) OPERATOR(pg_catalog.<>) "
		        "coalesce(l.n, 0) ORDER BY 1, coalesce(a.r, l.r) LIMIT " +
		        std::to_string(left),
		    left));
	for (const auto &row : found)
		emit(row);
	return found.size();
}

} // namespace tb::pg

namespace tb::pg {

namespace {

struct Archived {
	RestoredTable table;
	std::unique_ptr<archive::ArchiveReader> reader; // at the table's rows
	std::optional<archive::TableHeader> header;
	uint64 rows = 0; // as the archive's index records them
	std::unique_ptr<ArchivedCopy> copy;
	// A streamed comparison's (counts only): its key, and its rows read ahead.
	RowKey key;
	bool streams = false;
	StreamedTable streamed;
	std::unique_ptr<ArchivedReadAhead> ahead; // after reader: stopped before it closes
	const std::vector<std::string> &columns() const { return table.plan.load; }
};

// One table of an archive, planned; its rows are read by the comparison (streamed, or loaded into
// a temporary table by load_copy). On the heap: a read ahead holds references into it.
std::unique_ptr<Archived> plan_table(const OpenedBackup &b, const archive::TableIndexEntry &entry, PlanPurpose purpose,
                                     const std::vector<TenantTable> &now) {
	auto owned = std::make_unique<Archived>();
	Archived &a = *owned;
	a.reader = archive::open_archive_table(*b.storage, b.backup.object_name, reader_options(b.backup), entry);
	a.header = a.reader->next_table();
	if (!a.header)
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(b.backup.id) +
		                                           " is damaged: its index names a table it lacks");
	a.rows = entry.rows;
	a.table = {plan_table_restore(*a.header, b.backup.id, now, RestoreOptions{}, purpose), 0};
	if (a.table.plan.dropped) // skipped with a WARNING, as a restore skips it
		return owned;
	a.table.tenant = tenant_datum(b.backup.tenant, a.table.plan.tenant_type, a.table.plan.table.tenant_value_column(),
	                              a.table.plan.display_name);
	return owned;
}

// Counts of a backup against the rows now, by a key compared as bytes, stream: decided here, and
// the backup's rows read ahead on a helper thread while the table before is compared.
void prepare_stream(Archived &a, const OpenedBackup &b, const DiffSnapshot &snapshot) {
	if (a.table.plan.dropped)
		return;
	a.key = choose_row_key(a.table.plan.relid, a.columns());
	a.streams = key_streams(a.table.plan.relid, a.key);
	if (!a.streams)
		return;
	a.streamed.table = &a.table;
	a.streamed.key = &a.key;
	a.streamed.snapshot = snapshot.snapshot();
	// Converted columns are read when the table is compared (on the backend's thread), so that
	// their pinned value styles' GUC nest level does not outlive the table before it.
	if (!a.table.plan.mapping.conversions.empty())
		return;
	a.ahead = std::make_unique<ArchivedReadAhead>(*a.reader, *a.header, a.streamed, b.backup.id, a.rows, true,
	                                              unchanged_before(b.backup, *a.header, *a.streamed.table));
}

void load_copy(Archived &a, int64 backup_id) {
	a.copy = std::make_unique<ArchivedCopy>(*a.reader, *a.header, a.table, backup_id);
}

} // namespace

void compare_backup(const OpenedBackup &backup, const OpenedBackup *other, PlanPurpose purpose,
                    const std::function<void(const RestoredTable &, const Comparison &)> &each,
                    const std::set<std::string> *only, bool counts_only) {
	std::vector<TenantTable> now = load_tenant_tables();
	DiffSnapshot snapshot; // before any archive is loaded: the tenant's rows as of the call
	auto index_of = [](const OpenedBackup &b) {
		return archive::read_archive_index(*b.storage, b.backup.object_name, reader_options(b.backup));
	};
	std::vector<archive::TableIndexEntry> entries = index_of(backup), other_entries;
	if (only)
		entries.erase(
		    std::remove_if(entries.begin(), entries.end(),
		                   [&](const archive::TableIndexEntry &e) { return !only->count(e.schema + "." + e.name); }),
		    entries.end());
	if (other)
		other_entries = index_of(*other);
	auto find_other = [&](const std::string &schema, const std::string &name) {
		return std::find_if(other_entries.begin(), other_entries.end(),
		                    [&](const archive::TableIndexEntry &e) { return e.schema == schema && e.name == name; });
	};
	// One table at a time: temporary space for one table (of each backup), never the tenant's.
	auto compare = [&](Archived *after, Archived *before) {
		const RestoredTable &t = after ? after->table : before->table;
		Comparison c;
		c.relid = t.plan.relid;
		c.columns = after && before ? common_columns(after->columns(), before->columns())
		                            : (after ? after->columns() : before->columns());
		c.key = choose_row_key(t.plan.relid, c.columns);
		c.tenant_type = t.plan.tenant_type;
		c.tenant = t.tenant;
		c.snapshot = &snapshot;
		// Counts of a backup against the rows now, by a key compared as bytes: streamed.
		if (after && after->streams) {
			c.streamed_counts = [&]() {
				StreamedCounts n;
				stream_differences(*after->reader, *after->header, after->streamed, backup.backup, after->rows, 0,
				                   nullptr, n, after->ahead.get());
				after->ahead.reset();
				DiffCounts counts;
				counts.only_in_backup = counts.missing_by_key = n.only_in_backup;
				counts.only_live = n.only_live;
				counts.changed = n.changed;
				counts.unchanged = n.unchanged;
				return counts;
			};
			each(t, c);
			return;
		}
		if (after)
			load_copy(*after, backup.backup.id);
		if (before)
			load_copy(*before, other->backup.id);
		const ArchivedCopy &any = after ? *after->copy : *before->copy;
		c.backup = after ? after->copy->rows(c.columns) : any.rows(c.columns, true);
		if (!other)
			c.now = live_rows(t, c.columns);
		else
			c.now = before ? before->copy->rows(c.columns) : any.rows(c.columns, true);
		each(t, c);
		if (after)
			after->copy->drop();
		if (before)
			before->copy->drop();
	};
	// Streamed counts plan each table one ahead, so that its rows are read while the one before
	// is compared (two tables' rows in memory at most).
	bool stream = counts_only && !other;
	std::unique_ptr<Archived> next;
	auto plan_next = [&](size_t i) {
		next = i < entries.size() ? plan_table(backup, entries[i], purpose, now) : nullptr;
		if (next && stream)
			prepare_stream(*next, backup, snapshot);
	};
	plan_next(0);
	for (size_t i = 0; i < entries.size(); i++) {
		std::unique_ptr<Archived> a = std::move(next);
		const archive::TableIndexEntry &entry = entries[i];
		if (stream)
			plan_next(i + 1);
		if (a->table.plan.dropped)
			continue; // a table dropped since the backup
		std::unique_ptr<Archived> b;
		if (other) {
			auto o = find_other(entry.schema, entry.name);
			if (o != other_entries.end()) {
				b = plan_table(*other, *o, purpose, now);
				other_entries.erase(o);
				if (b->table.plan.dropped)
					b.reset();
			}
		}
		compare(a.get(), b.get());
		if (!stream)
			plan_next(i + 1);
	}
	for (const auto &entry : other_entries) {
		std::unique_ptr<Archived> b = plan_table(*other, entry, purpose, now);
		if (b->table.plan.dropped)
			continue;
		compare(nullptr, b.get());
	}
}

} // namespace tb::pg
