// A restore that applies only the differences (issue 21): for a table whose rows have a key, the
// rows only live are deleted, the rows only in the backup inserted and the changed ones updated,
// instead of deleting and reloading every row of the tenant. The differences are found by the
// diff engine's rule (the same as backup_diff and a preview): streamed for a key compared as bytes
// (streamed_diff.hpp), else by one join of the backup's rows, loaded into a temporary table
// (ArchivedCopy, with the restore's own checks: tenant, schema drift), with the tenant's rows on
// the key. Only the differences go into a second temporary table, which the DELETE, UPDATE and
// INSERT then read by index probes. The result is the rows a DELETE + COPY leaves: the same checks
// (foreign keys, here restricted to the rows written and the keys removed), triggers off,
// sequences advanced.
#pragma once
#include "pg/archive/diff_engine.hpp"
#include "pg/archive/foreign_keys.hpp"
#include "pg/archive/streamed_diff.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

struct DiffApplyPlan {
	RowKey key; // a primary key, or a unique key on NOT NULL columns
	// false: the table has another unique or exclusion constraint, which an UPDATE of one row at
	// a time could violate in passing (two rows swapping values): changed rows are deleted and
	// inserted again, as a DELETE + COPY would. So also when the caller may not UPDATE the table.
	bool update_in_place = true;
	std::vector<std::string> identity_always; // columns GENERATED ALWAYS AS IDENTITY (raw names)
	bool streams = false;                     // compared as bytes (key_streams)
};

// Whether the restore of this table can apply differences. nullopt keeps DELETE + COPY: a table
// found through a path (its rows are deleted before their parents change), a Citus table, a
// table without a usable key (none, or one with a column that may be NULL), and a table with
// columns the backup does not fill (added since the backup: a reload gives them their defaults,
// an UPDATE would keep today's values). Needs SPI connected.
std::optional<DiffApplyPlan> plan_diff_apply(const RestoredTable &table);

// The table's columns GENERATED ALWAYS AS IDENTITY (raw names), which an INSERT of restored rows
// must override (OVERRIDING SYSTEM VALUE, as COPY does). Needs SPI connected.
std::vector<std::string> identity_always_columns(Oid relid);

struct AppliedDiff {
	uint64 added = 0, removed = 0, changed = 0, unchanged = 0;
	uint64 archived = 0; // the backup's rows of the table
};

// Applies the differences between `archived` (the backup's rows of the table) and the tenant's
// rows now; the keys it removes and the rows it writes are given to `foreign_keys` for their
// checks. Triggers off and as the table's owner, as a restore's DELETE and COPY (LoadingScope).
// Past `max_differences` it stops looking and changes nothing (nullopt): so many rows are
// cheaper deleted and reloaded (restore.cpp does). Needs SPI connected.
std::optional<AppliedDiff> apply_differences(const RestoredTable &table, const DiffApplyPlan &plan,
                                             const ArchivedCopy &archived, ForeignKeyChecks &foreign_keys,
                                             uint64 max_differences);

// The same, comparing the reader's current table (`header`) with the tenant's rows as bytes
// (streamed_diff.hpp: for a key that key_streams accepts), without loading the backup's rows into
// a temporary table; only the differences are. nullopt also when the backup holds two rows of one
// key (a key added since the backup): a reload then fails as it must. Needs SPI connected.
std::optional<AppliedDiff> apply_streamed_differences(const RestoredTable &table, const DiffApplyPlan &plan,
                                                      archive::ArchiveReader &reader,
                                                      const archive::TableHeader &header, const StoredBackup &backup,
                                                      uint64 expected_rows, ForeignKeyChecks &foreign_keys,
                                                      uint64 max_differences, ArchivedReadAhead *ahead = nullptr);

// How a restore's streamed comparison reads the table (as its owner, stopping once most rows
// differ): for apply_streamed_differences and a restore's read ahead alike.
StreamedTable streamed_restore(const RestoredTable &table, const DiffApplyPlan &plan);

// Whether most of a first sample of the backup's rows of a table (an ArchivedCopy of its first
// kDifferenceSampleRows rows) differ from the tenant's rows now (gone, or changed): more than the
// share differences_worth_applying allows. Such a table is deleted and reloaded at once, without
// first loading and comparing every row only to find that out. A heuristic on the first rows: a
// wrong guess costs time, never a different result. Needs SPI connected.
bool sample_mostly_differs(const RestoredTable &table, const DiffApplyPlan &plan, const ArchivedCopy &sample);

// Tables of more archived rows than this are sampled first (sample_mostly_differs), of this many;
// a streamed comparison instead stops once this many live rows were compared and most of those
// compared so far differ (StreamedTable::stop_when_most_differ).
inline constexpr uint64 kDifferenceSampleRows = 2000;

// The share of a table's rows whose differences are worth applying one by one (see below).
inline constexpr uint64 kDifferencesShare = 4;

// "Most" of the rows compared differ: more than the share differences_worth_applying allows.
inline bool mostly_differ(uint64 differing, uint64 compared) {
	return differing > compared / kDifferencesShare;
}

// Differences past which a table of `rows` archived rows is deleted and reloaded instead: a
// quarter of its rows (an UPDATE, DELETE or INSERT of one row found by index costs more than
// the row's share of a DELETE + COPY), and never fewer than 1,000.
uint64 differences_worth_applying(uint64 rows);

} // namespace tb::pg
