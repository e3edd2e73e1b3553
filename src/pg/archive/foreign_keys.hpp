// Foreign keys around a restore. Rows are deleted and loaded with triggers off, so the restore
// checks foreign keys itself, set-wise, without scanning whole tables:
//  - rows of a restored table (this tenant's) must find their referenced rows;
//  - rows of any table that reference a restored table must still find theirs. When the key
//    includes the referenced table's tenant column, those rows are found by that column's value;
//    otherwise the DELETE remembers the keys it removed (DELETE ... RETURNING into a temporary
//    table) and only rows referencing those keys are checked.
#pragma once
#include "pg/archive/restore_plan.hpp"

#include <map>
#include <string>
#include <vector>

namespace tb::pg {

// Plans that cost the tenant, not the database: index probes, never a hash of a whole table nor
// a scan of one, and bounded work memory (a restore's checks, and reading or deleting the rows of
// tables found through foreign keys). Returns the GUC nest level to give end_index_probes; an
// error ends it with the (sub)transaction.
int plan_with_index_probes();
void end_index_probes(int level);

struct RestoredTable {
	TableRestorePlan plan;
	Datum tenant;             // tenant value in the type of plan.tenant_type
	bool distributed = false; // a Citus table distributed by the tenant column (citus_tables.hpp)
};

class ForeignKeyChecks {
public:
	// Deletes the tenant's rows of a table about to be restored (remembering removed keys where
	// needed) and returns how many rows it deleted. `only`, if given, a condition on its rows
	// (alias ch): a row-aimed restore deletes the rows of its selection only.
	uint64 delete_tenant_rows(const RestoredTable &table, const std::string &only = "");
	// What a restore is aimed at, for the hint of a refusal: the whole backup, some tables (the
	// hint names the table that must be restored with them), some rows (rows => of
	// archive/row_aim.hpp: the hint names the table whose rows must come with them).
	enum class Aim { Whole, Tables, Rows };
	// A table restored by applying differences (diff_apply.hpp), before it changes: `removed`
	// (" FROM ... ch WHERE ...") are its live rows about to be deleted or changed, whose keys are
	// remembered for every foreign key into the table; `written` (the same form) are the rows it
	// writes, of columns `columns`. Its checks then probe only those: rows it leaves alone found
	// what they reference before, and no other row lost what it referenced.
	void remember_differences(const RestoredTable &table, const std::string &removed, const std::string &written,
	                          const std::vector<std::string> &columns);
	// Fails with foreign_key_violation, naming the constraint, if a foreign key is broken.
	void check(const std::vector<RestoredTable> &tables, int64 backup_id, Aim aim = Aim::Whole);
	// A table found through a path has no tenant column to check its rows by as they load: after
	// the load, every loaded row must reach the tenant through the path (its parents restored, or
	// kept), so the tenant's rows found through it must number exactly `loaded`.
	static void check_path_rows(const RestoredTable &table, uint64 loaded, int64 backup_id);

private:
	// The temporary table of the keys `rows` (" FROM ... ch ...") hold in the columns `fk` references.
	std::string removed_keys_table(const RestoredTable &table, const ForeignKey &fk,
	                               std::map<std::string, std::string> &key_tables);
	std::map<Oid, std::string> removed_keys_; // constraint -> temporary table of removed keys
	struct Written {
		std::string rows;
		std::vector<std::string> columns; // raw names
	};
	std::map<Oid, Written> written_; // tables restored by applying differences -> the rows written
};

} // namespace tb::pg
