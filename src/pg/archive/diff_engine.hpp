// The diff engine: compares an archive's rows of a table with the tenant's rows now (or with
// another archive's), for backup_diff and for a restore's preview. Counts by a key compared as
// bytes stream (streamed_diff.hpp); otherwise the archive's rows are loaded with COPY FROM into a
// temporary table (through the restore's own plan and checks, archived_tuples.hpp) and the two
// sides are joined by SQL on the rows' key, so memory is PostgreSQL's own bounded work_mem (joins
// and sorts spill to disk) whatever the tenant's size. Both give the same answer (regression 38).
// Every read of the tenant's rows of one comparison runs under one snapshot, taken by
// DiffSnapshot, and takes no lock stronger than a backup's (ACCESS SHARE, PlanPurpose::Compare).
#pragma once
#include "core/archive/archive_reader.hpp"
#include "pg/archive/foreign_keys.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tb::pg {

// How the rows of a table are matched: by its primary key; else by a unique key (a valid,
// non-partial one on plain columns, the one with the fewest columns); else as whole rows, compared
// as a multiset. Only keys whose every column is compared qualify. A row whose unique key holds a
// NULL matches no other by key: such rows are compared as whole rows too.
struct RowKey {
	std::string matched_by;           // "primary key", "unique key", "whole row"
	std::vector<std::string> columns; // raw names
	std::vector<std::string> equals;  // " OPERATOR(schema.=) " of each column's operator class
	bool nullable = false;            // a unique key: a row may hold a NULL in it
};
RowKey choose_row_key(Oid relid, const std::vector<std::string> &columns);

// The rows of one side of a comparison: "(SELECT <columns> FROM ...) x"; $1 is the tenant value.
using RowSet = std::string;

// The tenant's rows of the table now, of the given columns.
RowSet live_rows(const RestoredTable &table, const std::vector<std::string> &columns);

// An archive's rows of one table in a temporary table of the plan's load columns (dropped at
// commit, or by drop()). Reads the reader's current table: all of its rows, or only the first
// `first_rows` (a sample; 0: all, checked against the count the archive records). Needs SPI
// connected.
class ArchivedCopy {
public:
	ArchivedCopy(archive::ArchiveReader &reader, const archive::TableHeader &table, const RestoredTable &restored,
	             int64 backup_id, uint64 first_rows = 0);
	// Its rows of `columns`; none: the same columns without any row.
	RowSet rows(const std::vector<std::string> &columns, bool none = false) const;
	const std::vector<std::string> &columns() const { return columns_; }
	uint64 rows_loaded() const { return loaded_; }
	void drop();

private:
	std::string name_;
	std::vector<std::string> columns_;
	uint64 loaded_ = 0;
	Oid owner_table_ = InvalidOid;
};

// While alive: no merge joins. A comparison joins the backup's rows with the tenant's on the key;
// a merge join would read the live side in key order, along the whole table's key index (every
// tenant's rows), where a hash join or index probes read only the tenant's rows, by the tenant
// column. In a GUC nest level of its own (ended as end_guc_level ends ours).
class NoMergeJoins {
public:
	NoMergeJoins();
	~NoMergeJoins();
	NoMergeJoins(const NoMergeJoins &) = delete;
	NoMergeJoins &operator=(const NoMergeJoins &) = delete;

private:
	int exceptions_at_entry_ = 0;
	int guc_level_ = 0;
};

// One snapshot for the reads of the tenant's rows in a comparison, taken when it is made: the
// rows an archive's temporary table received since are seen (its command id is moved), the
// writes of other transactions since are not.
class DiffSnapshot {
public:
	DiffSnapshot();
	~DiffSnapshot();
	DiffSnapshot(const DiffSnapshot &) = delete;
	DiffSnapshot &operator=(const DiffSnapshot &) = delete;
	Snapshot snapshot() const { return snapshot_; }

private:
	Snapshot snapshot_ = nullptr;
};

struct DiffCounts {
	uint64 only_in_backup = 0, only_live = 0, changed = 0, unchanged = 0;
	uint64 missing_by_key = 0; // of only_in_backup, the rows matched by key (not as whole rows)
};

// One difference, as jsonb text: the key (NULL for rows matched as whole rows), the row now
// (before; NULL if only in the backup) and the row in the backup (after; NULL if only live).
struct DiffRow {
	std::string kind; // "only_in_backup", "only_live", "changed"
	std::optional<std::string> key, before, after;
};

struct Comparison {
	Oid relid = InvalidOid; // the table now: reads run as its owner when a superuser compares
	RowKey key;
	std::vector<std::string> columns; // compared, raw names; both row sets have them
	RowSet backup, now;               // "after" (what a restore makes) and "before"
	Oid tenant_type = InvalidOid;     // of $1
	Datum tenant = 0;
	const DiffSnapshot *snapshot = nullptr;
	// Set instead of the row sets when the counts are streamed (streamed_diff.hpp): compare_backup
	// with counts_only, for a key compared as bytes. count_differences calls it.
	std::function<DiffCounts()> streamed_counts;
};

// How two rows of a table are told apart, in every comparison (backup_diff, a preview, a restore
// that applies differences): "NOT (a *= b)" on row values ROW(...) of the same columns, their
// binary images, so exactly the values a restore writes, whatever equality a type has or lacks
// (numeric 1.0 and 1.00 differ), without converting either row to text.
std::string rows_differ(const std::string &a, const std::string &b);

// The columns two row sets share, in the order of the first.
std::vector<std::string> common_columns(const std::vector<std::string> &a, const std::vector<std::string> &b);

DiffCounts count_differences(const Comparison &c);
// Calls `emit` for at most `limit` differences (keyed ones first, ordered by kind and key);
// returns how many it emitted.
uint64 list_differences(const Comparison &c, int64 limit, const std::function<void(const DiffRow &)> &emit);

} // namespace tb::pg

#include "pg/archive/archive_access.hpp"

namespace tb::pg {

// Compares every table of `backup` (in the archive's order) with the tenant's rows now, or with
// the same table in `other` (a backup of the same tenant; a table in only one of them compares
// with no rows), each table planned by the restore's planner for `purpose` under one snapshot;
// calls `each` with the table's plan and comparison, then drops its temporary tables. Tables only
// in `other` follow, compared with no rows of `backup`. Needs SPI connected.
// `only`, if given, names the tables ("schema.name") compared; the others are not read.
// `counts_only`: `each` only counts the differences (count_differences), which then stream
// (streamed_diff.hpp) where the key allows it, without a temporary table.
void compare_backup(const OpenedBackup &backup, const OpenedBackup *other, PlanPurpose purpose,
                    const std::function<void(const RestoredTable &, const Comparison &)> &each,
                    const std::set<std::string> *only = nullptr, bool counts_only = false);

} // namespace tb::pg
