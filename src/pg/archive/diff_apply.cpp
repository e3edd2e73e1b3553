#include "pg/archive/diff_apply.hpp"

#include "core/archive/copy_binary.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/archive/streamed_diff.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"

#include <algorithm>

namespace tb::pg {

namespace {

int apply_table_counter = 0;

// The kinds of difference, as the differences' table holds them.
constexpr const char *kAdded = "'a'", *kRemoved = "'r'", *kChanged = "'c'";

std::string quoted_list(const std::vector<std::string> &columns, const std::string &alias) {
	return join_each(columns, ", ", [&](size_t i) { return alias + quoted_ident(columns[i]); });
}

size_t position_of(const std::vector<std::string> &columns, const std::string &name) {
	return static_cast<size_t>(std::find(columns.begin(), columns.end(), name) - columns.begin());
}

uint64 run(const std::string &sql, const RestoredTable &t, int expected) {
	const char *q = sql.c_str();
	SqlParams params = SqlParams().datum(t.plan.tenant_type, t.tenant);
	return pg_eval([&] { return spi_run(q, params, false, expected); });
}

void run_utility(const std::string &sql) {
	const char *q = sql.c_str();
	pg_call([q] { spi_run(q, SqlParams::none(), false, SPI_OK_UTILITY); });
}

// " FROM a <join> JOIN l ON <key> WHERE <the rows differ>": the backup's rows (a) joined with the
// tenant's (l) on the key, as the diff engine compares them: a's columns as c0, c1, ..., l's key
// as k0, k1, ...; p is true on each side's rows (NULL on the side a row is missing from).
std::string backup_join_live(const RestoredTable &t, const DiffApplyPlan &p, const ArchivedCopy &archived,
                             const std::string &join) {
	const std::vector<std::string> &cols = archived.columns();
	std::string a_cols, l_keys, on;
	for (size_t i = 0; i < cols.size(); i++)
		a_cols += "x." + quoted_ident(cols[i]) + " AS c" + std::to_string(i) + ", ";
	for (size_t k = 0; k < p.key.columns.size(); k++) {
		l_keys += "x." + quoted_ident(p.key.columns[k]) + " AS k" + std::to_string(k) + ", ";
		on += std::string(k ? " AND " : "") + "a.c" + std::to_string(position_of(cols, p.key.columns[k])) +
		      p.key.equals[k] + "l.k" + std::to_string(k);
	}
	// The backup's row value is made after the join, of a's columns: the join carries each value once.
	std::string a_row = "ROW(" + join_each(cols, ", ", [](size_t i) { return "a.c" + std::to_string(i); }) + ")";
	return " FROM (SELECT " + a_cols + "true AS p FROM " + archived.rows(cols) + ") a " + join + " JOIN (SELECT " +
	       l_keys + "true AS p, ROW(" + quoted_list(cols, "x.") + ") AS r FROM " + live_rows(t, cols) + ") l ON " + on +
	       " WHERE a.p IS NULL OR l.p IS NULL OR " + rows_differ(a_row, "l.r");
}

} // namespace

bool sample_mostly_differs(const RestoredTable &t, const DiffApplyPlan &p, const ArchivedCopy &sample) {
	if (sample.rows_loaded() == 0)
		return false;
	uint64 differing;
	{
		AsTableOwner owner(t.plan.relid); // reads the table as a restore's DELETE does
		NoMergeJoins by_tenant_rows;
		std::string count = "SELECT pg_catalog.count(*)::pg_catalog.int8" + backup_join_live(t, p, sample, "LEFT");
		const char *q = count.c_str();
		SqlParams params = SqlParams().datum(t.plan.tenant_type, t.tenant);
		differing = pg_eval([&] {
			spi_run(q, params, false, SPI_OK_SELECT);
			bool isnull;
			return static_cast<uint64>(DatumGetInt64(spi_datum(0, 1, &isnull)));
		});
	}
	return mostly_differ(differing, sample.rows_loaded());
}

std::vector<std::string> identity_always_columns(Oid relid) {
	std::vector<std::string> names;
	for (const auto &row :
	     spi_query("SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a WHERE a.attrelid "
	               "OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT "
	               "a.attisdropped AND a.attidentity OPERATOR(pg_catalog.=) 'a'",
	               {std::to_string(relid)}))
		names.push_back(*row[0]);
	return names;
}

std::optional<DiffApplyPlan> plan_diff_apply(const RestoredTable &t) {
	const TableRestorePlan &plan = t.plan;
	if (plan.dropped || t.distributed || plan.table.is_path())
		return std::nullopt;
	for (const auto &c : plan.table.columns) // a column the backup does not fill keeps DELETE + COPY
		if (std::find(plan.load.begin(), plan.load.end(), c.name) == plan.load.end())
			return std::nullopt;
	DiffApplyPlan p;
	p.key = choose_row_key(plan.relid, plan.load);
	if (p.key.columns.empty() || p.key.nullable)
		return std::nullopt;
	std::string relid = std::to_string(plan.relid);
	auto rows = spi_query("SELECT pg_catalog.count(*)::pg_catalog.text FROM pg_catalog.pg_index i WHERE i.indrelid "
	                      "OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND (i.indisunique OR i.indisexclusion)",
	                      {relid});
	p.update_in_place = rows.size() == 1 && *rows[0][0] == "1";
	// A restore asks for INSERT and DELETE (restore_plan.cpp), as its DELETE + COPY needs: a
	// caller without UPDATE has changed rows deleted and inserted again, with the same result.
	Oid relid_oid = plan.relid;
	if (!pg_eval([relid_oid] { return pg_class_aclcheck(relid_oid, GetUserId(), ACL_UPDATE) == ACLCHECK_OK; }))
		p.update_in_place = false;
	p.identity_always = identity_always_columns(plan.relid);
	p.streams = key_streams(plan.relid, p.key);
	// An identity column GENERATED ALWAYS cannot be updated: only as the key (of integers, whose
	// equal values are the same values) is it left as it is.
	for (const auto &c : p.identity_always)
		if (std::find(p.key.columns.begin(), p.key.columns.end(), c) == p.key.columns.end())
			p.update_in_place = false;
	return p;
}

uint64 differences_worth_applying(uint64 rows) {
	return std::max<uint64>(1000, rows / kDifferencesShare);
}

namespace {

// The differences' table: a kind, then the columns; the backup's row for rows added and changed,
// only the key (the live row's) for rows removed. Shaped as the table now, without its
// constraints; owned by whoever restores, as the restore's other temporary tables.
struct DifferencesTable {
	std::string name, kind;
	Oid relid = InvalidOid;
};

DifferencesTable create_differences_table(const RestoredTable &t, const std::vector<std::string> &cols) {
	DifferencesTable d{"tenant_backup_apply_" + std::to_string(++apply_table_counter), "tenant_backup_kind"};
	while (std::find(cols.begin(), cols.end(), d.kind) != cols.end())
		d.kind += "_";
	std::string create = "CREATE TEMP TABLE pg_temp." + d.name + " ON COMMIT DROP AS SELECT ''::pg_catalog.text AS " +
	                     quoted_ident(d.kind) + ", " + quoted_list(cols, "ch.") + " FROM " +
	                     scan_of(t.plan.relkind, t.plan.qualified) + " ch WITH NO DATA";
	const char *q = create.c_str();
	const char *name = d.name.c_str();
	AsTableOwner owner(t.plan.relid, AsTableOwner::Mode::Plain);
	d.relid = pg_eval([q, name] {
		spi_run(q, SqlParams::none(), false, SPI_OK_UTILITY);
		return RangeVarGetRelid(makeRangeVar(pstrdup("pg_temp"), pstrdup(name), -1), NoLock, false);
	});
	d.name = "pg_temp." + d.name;
	return d;
}

void drop_differences_table(const RestoredTable &t, const DifferencesTable &d) {
	AsTableOwner owner(t.plan.relid, AsTableOwner::Mode::Plain);
	run_utility("DROP TABLE " + d.name);
}

// Deletes, updates and inserts what the differences' table holds (n: its counts).
void apply_table(const RestoredTable &t, const DiffApplyPlan &p, const std::vector<std::string> &cols,
                 const DifferencesTable &d, const AppliedDiff &n, ForeignKeyChecks &foreign_keys) {
	const TableRestorePlan &plan = t.plan;
	{
		AsTableOwner owner(plan.relid, AsTableOwner::Mode::Plain);
		run_utility("ANALYZE " + d.name); // its size, for the plans below (index probes when it is small)
	}
	const std::string &diffs = d.name, &kind = d.kind;
	std::string target = scan_of(plan.relkind, plan.qualified);
	std::string same_key = join_each(p.key.columns, " AND ", [&](size_t i) {
		return "ch." + quoted_ident(p.key.columns[i]) + p.key.equals[i] + "d." + quoted_ident(p.key.columns[i]);
	});
	std::string tenant = "ch." + plan.tenant_column + kEq + "$1";
	auto of_kind = [&](const std::string &kinds) { return "d." + quoted_ident(kind) + " IN (" + kinds + ")"; };
	std::string deleted = p.update_in_place ? kRemoved : std::string(kRemoved) + ", " + kChanged;
	std::string inserted = p.update_in_place ? kAdded : std::string(kAdded) + ", " + kChanged;
	// The foreign keys' checks: what the rows of other tables may have referenced (the live rows
	// removed or changed, before they change), and the rows written.
	foreign_keys.remember_differences(
	    t,
	    " FROM " + target + " ch JOIN " + diffs + " d ON " + same_key + " WHERE " +
	        of_kind(std::string(kRemoved) + ", " + kChanged) + " AND " + tenant,
	    " FROM " + diffs + " ch WHERE ch." + quoted_ident(kind) + " IN (" + kAdded + ", " + kChanged + ")", cols);
	LoadingScope loading(plan.relid);
	if (n.removed || (!p.update_in_place && n.changed))
		run("DELETE FROM " + target + " ch USING " + diffs + " d WHERE " + of_kind(deleted) + " AND " + same_key +
		        " AND " + tenant,
		    t, SPI_OK_DELETE);
	if (p.update_in_place && n.changed) {
		std::vector<std::string> set; // every column but an identity key (equal, so the same)
		for (const auto &c : cols)
			if (std::find(p.identity_always.begin(), p.identity_always.end(), c) == p.identity_always.end())
				set.push_back(c);
		run("UPDATE " + target + " ch SET " +
		        join_each(set, ", ", [&](size_t i) { return quoted_ident(set[i]) + " = d." + quoted_ident(set[i]); }) +
		        " FROM " + diffs + " d WHERE " + of_kind(kChanged) + " AND " + same_key + " AND " + tenant,
		    t, SPI_OK_UPDATE);
	}
	if (n.added || (!p.update_in_place && n.changed))
		run("INSERT INTO " + plan.qualified + " (" + quoted_list(cols, "") + ")" +
		        (p.identity_always.empty() ? "" : " OVERRIDING SYSTEM VALUE") + " SELECT " + quoted_list(cols, "d.") +
		        " FROM " + diffs + " d WHERE " + of_kind(inserted),
		    t, SPI_OK_INSERT);
}

} // namespace

std::optional<AppliedDiff> apply_differences(const RestoredTable &t, const DiffApplyPlan &p,
                                             const ArchivedCopy &archived, ForeignKeyChecks &foreign_keys,
                                             uint64 max_differences) {
	const TableRestorePlan &plan = t.plan;
	const std::vector<std::string> &cols = archived.columns();
	DifferencesTable d = create_differences_table(t, cols);
	std::string select;
	for (size_t i = 0; i < cols.size(); i++) {
		size_t k = position_of(p.key.columns, cols[i]);
		std::string c = "a.c" + std::to_string(i);
		select += ", " +
		          (k < p.key.columns.size() ? "CASE WHEN a.p THEN " + c + " ELSE l.k" + std::to_string(k) + " END" : c);
	}
	std::string fill = "INSERT INTO " + d.name + " SELECT CASE WHEN l.p IS NULL THEN " + kAdded +
	                   " WHEN a.p IS NULL THEN " + kRemoved + " ELSE " + kChanged + " END" + select +
	                   backup_join_live(t, p, archived, "FULL") + " LIMIT " + std::to_string(max_differences + 1);
	uint64 found;
	{
		AsTableOwner owner(plan.relid); // reads the table as a restore's DELETE does
		NoMergeJoins by_tenant_rows;
		found = run(fill, t, SPI_OK_INSERT);
	}
	if (found > max_differences) {
		drop_differences_table(t, d);
		return std::nullopt;
	}
	pg_call([] { CommandCounterIncrement(); });
	AppliedDiff n;
	{
		AsTableOwner owner(plan.relid, AsTableOwner::Mode::Plain);
		const std::string &kind = d.kind;
		auto counts = spi_query(("SELECT pg_catalog.count(*) FILTER (WHERE d." + quoted_ident(kind) + kEq + kAdded +
		                         ")::pg_catalog.text, pg_catalog.count(*) FILTER (WHERE d." + quoted_ident(kind) + kEq +
		                         kRemoved + ")::pg_catalog.text, pg_catalog.count(*) FILTER (WHERE d." +
		                         quoted_ident(kind) + kEq + kChanged + ")::pg_catalog.text FROM " + d.name + " d")
		                            .c_str());
		n.added = std::stoull(*counts[0][0]);
		n.removed = std::stoull(*counts[0][1]);
		n.changed = std::stoull(*counts[0][2]);
	}
	n.archived = archived.rows_loaded();
	n.unchanged = n.archived - n.added - n.changed;
	apply_table(t, p, cols, d, n, foreign_keys);
	return n;
}

StreamedTable streamed_restore(const RestoredTable &t, const DiffApplyPlan &p) {
	StreamedTable table;
	table.table = &t;
	table.key = &p.key;
	table.as_owner = true; // reads the table as a restore's DELETE does
	table.stop_when_most_differ = true;
	return table;
}

std::optional<AppliedDiff> apply_streamed_differences(const RestoredTable &t, const DiffApplyPlan &p,
                                                      archive::ArchiveReader &reader,
                                                      const archive::TableHeader &header, const StoredBackup &backup,
                                                      uint64 expected_rows, ForeignKeyChecks &foreign_keys,
                                                      uint64 max_differences, ArchivedReadAhead *ahead) {
	SpillFile differences;
	StreamedCounts counts;
	StreamedTable table = streamed_restore(t, p);
	if (stream_differences(reader, header, table, backup, expected_rows, max_differences, &differences, counts,
	                       ahead) != Streamed::Compared)
		return std::nullopt;
	const std::vector<std::string> &cols = t.plan.load;
	DifferencesTable d = create_differences_table(t, cols);
	std::vector<std::string> fields{d.kind};
	fields.insert(fields.end(), cols.begin(), cols.end());
	differences.rewind();
	archive::CopyBinaryFrame frame(differences);
	uint64 loaded;
	{
		// Decoding a domain's values runs its CHECK constraints: as the table's owner, as a restore.
		AsTableOwner owner(t.plan.relid);
		loaded = copy_into(d.relid, fields, frame);
	}
	if (loaded != counts.only_in_backup + counts.only_live + counts.changed)
		throw SqlError(ERRCODE_INTERNAL_ERROR,
		               "tenant_backup: the differences of table " + t.plan.display_name + " did not all load");
	pg_call([] { CommandCounterIncrement(); });
	AppliedDiff n;
	n.added = counts.only_in_backup;
	n.removed = counts.only_live;
	n.changed = counts.changed;
	n.unchanged = counts.unchanged;
	n.archived = counts.archived;
	apply_table(t, p, cols, d, n, foreign_keys);
	return n;
}

} // namespace tb::pg
