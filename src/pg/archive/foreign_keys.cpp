#include "pg/archive/foreign_keys.hpp"

#include "pg/catalog/foreign_key_catalog.hpp"

#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

namespace tb::pg {

namespace {

// Position in the key of the parent's tenant column, or -1.
int tenant_position(const ForeignKey &fk, const std::string &parent_tenant_column) {
	for (size_t i = 0; i < fk.parent_raw.size(); i++)
		if (fk.parent_raw[i] == parent_tenant_column)
			return static_cast<int>(i);
	return -1;
}

// The first row of a check's result, as "(a, b)=(1, 2)" of its columns, or nullopt when the
// check finds nothing. $1, when given, is a tenant value.
std::optional<std::string> first_row(const std::string &sql, Oid type, Datum value, int nargs) {
	const char *q = sql.c_str();
	SqlParams params;
	if (nargs > 0)
		params.datum(type, value);
	char *sample = pg_eval([&] {
		// read_only = false: the query must see the rows this transaction just loaded. One row
		// answers; planned without LIMIT, so for the whole pass a restore without violations makes
		// (a LIMIT would favour plain index scans that visit the heap in random order).
		if (spi_run(q, params, false, SPI_OK_SELECT, 1) == 0)
			return static_cast<char *>(nullptr);
		StringInfoData names, row;
		initStringInfo(&names);
		initStringInfo(&row);
		for (int i = 1; i <= SPI_tuptable->tupdesc->natts; i++) {
			char *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i);
			appendStringInfo(&names, "%s%s", i > 1 ? ", " : "", SPI_fname(SPI_tuptable->tupdesc, i));
			appendStringInfo(&row, "%s%s", i > 1 ? ", " : "", v ? v : "NULL");
		}
		return psprintf("(%s)=(%s)", names.data, row.data);
	});
	if (!sample)
		return std::nullopt;
	return std::string(sample);
}

int temp_table_counter = 0;

// Work memory of a check: enough to sort a large tenant's keys in a few runs.
constexpr int check_work_mem_kb = 16 * 1024;

} // namespace

// Checks run with plans whose cost grows with the tenant, not with the database: index probes per
// restored key or removed key, never a hash of a whole referenced table nor a scan of a whole
// table; keys are made distinct by sorting (bounded by work_mem, spilling beyond it), not hashing
// (which may take work_mem × hash_mem_multiplier), and work_mem is capped, so that a restore's
// memory does not grow with the tenant nor with a large session work_mem.
int plan_with_index_probes() {
	return pg_eval([] {
		int level = NewGUCNestLevel();
		for (const char *setting : {"enable_hashjoin", "enable_mergejoin", "enable_seqscan", "enable_hashagg"})
			set_config_option(setting, "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		if (work_mem > check_work_mem_kb)
			set_config_option("work_mem", std::to_string(check_work_mem_kb).c_str(), PGC_USERSET, PGC_S_SESSION,
			                  GUC_ACTION_SAVE, true, 0, false);
		return level;
	});
}

void end_index_probes(int level) {
	pg_call([level] { AtEOXact_GUC(false, level); });
}

uint64 ForeignKeyChecks::delete_tenant_rows(const RestoredTable &table, const std::string &only) {
	const TableRestorePlan &plan = table.plan;
	std::vector<std::string> ctes;
	std::vector<std::string> returning;            // each column once
	std::map<std::string, std::string> key_tables; // referenced columns -> temporary table
	for (const auto &fk : load_foreign_keys("c.confrelid OPERATOR(pg_catalog.=) " + std::to_string(plan.relid))) {
		if (tenant_position(fk, plan.tenant_column_raw) >= 0 || removed_keys_.count(fk.oid))
			continue; // found by the tenant column; or already remembered by an earlier restore
		if (table.distributed)
			// Citus requires a foreign key into a distributed table to include its distribution
			// column, the tenant column here; a key without it cannot be checked by the tenant's shard.
			throw SqlError(
			    ERRCODE_FEATURE_NOT_SUPPORTED,
			    "cannot restore into table " + plan.display_name + ": foreign key \"" + fk.name +
			        "\" references it without its tenant column; nothing was restored",
			    "On a Citus distributed table the restore checks foreign keys within the tenant's shard only.");
		size_t known = key_tables.size();
		std::string temp = removed_keys_table(table, fk, key_tables);
		if (key_tables.size() == known)
			continue; // another key into the same columns
		std::string cols = join_each(fk.parent_cols, ", ", [&](size_t i) { return fk.parent_cols[i]; });
		ctes.push_back("i" + std::to_string(ctes.size()) + " AS (INSERT INTO " + temp + " SELECT " + cols + " FROM d)");
		for (const auto &c : fk.parent_cols)
			if (std::find(returning.begin(), returning.end(), c) == returning.end())
				returning.push_back(c);
	}
	std::string sql;
	if (ctes.empty()) {
		sql = plan.table.delete_sql("", only);
	} else {
		sql = "WITH d AS (" +
		      plan.table.delete_sql(join_each(returning, ", ", [&](size_t i) { return "ch." + returning[i]; }), only) +
		      ")";
		for (const auto &cte : ctes)
			sql += ", " + cte;
		sql += " SELECT pg_catalog.count(*) FROM d";
	}
	const char *q = sql.c_str();
	Oid type = plan.tenant_type;
	Datum tenant = table.tenant;
	bool counted = !ctes.empty();
	SqlParams params = SqlParams().datum(type, tenant);
	// Rows found through a path: joined by index probes along it, never by scanning its tables.
	std::optional<int> probes;
	if (plan.table.is_path())
		probes = plan_with_index_probes();
	uint64 deleted;
	{
		LoadingScope loading(plan.relid);
		deleted = pg_eval([&] {
			uint64 n = spi_run(q, params, false, counted ? SPI_OK_SELECT : SPI_OK_DELETE);
			if (counted) {
				bool isnull;
				n = static_cast<uint64>(DatumGetInt64(spi_datum(0, 1, &isnull)));
			}
			return n;
		});
	}
	if (probes)
		end_index_probes(*probes);
	return deleted;
}

std::string ForeignKeyChecks::removed_keys_table(const RestoredTable &table, const ForeignKey &fk,
                                                 std::map<std::string, std::string> &key_tables) {
	std::string cols = join_each(fk.parent_cols, ", ", [&](size_t i) { return fk.parent_cols[i]; });
	auto known = key_tables.find(cols);
	if (known != key_tables.end())
		return removed_keys_[fk.oid] = known->second;
	std::string temp = "pg_temp.tenant_backup_fk_" + std::to_string(++temp_table_counter);
	std::string create = "CREATE TEMP TABLE " + temp + " ON COMMIT DROP AS SELECT " + cols + " FROM " +
	                     scan_of(table.plan.relkind, table.plan.qualified) + " WITH NO DATA";
	const char *q = create.c_str();
	{
		// Owned by whoever fills it (the restore's DELETE, as the table's owner); runs no user code.
		AsTableOwner owner(table.plan.relid, AsTableOwner::Mode::Plain);
		pg_call([q] { spi_run(q, SqlParams::none(), false, SPI_OK_UTILITY); });
	}
	key_tables[cols] = temp;
	return removed_keys_[fk.oid] = temp;
}

void ForeignKeyChecks::remember_differences(const RestoredTable &table, const std::string &removed,
                                            const std::string &written, const std::vector<std::string> &columns) {
	const TableRestorePlan &plan = table.plan;
	std::map<std::string, std::string> key_tables;
	for (const auto &fk : load_foreign_keys("c.confrelid OPERATOR(pg_catalog.=) " + std::to_string(plan.relid))) {
		size_t known = key_tables.size();
		std::string temp = removed_keys_table(table, fk, key_tables);
		if (key_tables.size() == known)
			continue;
		std::string sql = "INSERT INTO " + temp + " SELECT " +
		                  join_each(fk.parent_cols, ", ", [&](size_t i) { return "ch." + fk.parent_cols[i]; }) +
		                  removed;
		const char *q = sql.c_str();
		SqlParams params = SqlParams().datum(plan.tenant_type, table.tenant);
		AsTableOwner owner(plan.relid);
		pg_call([&] { spi_run(q, params, false, SPI_OK_INSERT); });
	}
	written_[plan.relid] = {written, columns};
}

namespace {

// A probe's extra condition that the referenced row is the tenant's ($1): " AND pa.t = $1", or
// "" when the referenced table has no tenant column to compare with.
// (the condition, " AND ...", or "" for none, on the referenced row pa)

// A single-column key whose child column is filtered by $1: its rows are dangling exactly when
// some child row holds $1 and no parent row does. Two index probes instead of a pass over the rows.
std::string dangling_value(const ForeignKey &fk, const std::string &child, const std::string &parent_condition) {
	return "SELECT $1 AS " + fk.child_cols[0] + " WHERE EXISTS (SELECT 1 FROM " + child + " WHERE ch." +
	       fk.child_cols[0] + kEq + "$1) AND NOT EXISTS (SELECT 1 FROM " + scan_of(fk.parent_kind, fk.parent_name) +
	       " pa WHERE pa." + fk.parent_cols[0] + fk.equals[0] + "$1" + parent_condition + ")";
}

// The rows of `child` (alias ch) whose column `col` holds $1, as " FROM ... WHERE ...".
std::string rows_holding(const std::string &child, const std::string &col) {
	return " FROM " + child + " WHERE ch." + col + kEq + "$1";
}

// " NOT EXISTS (...)": no row of the referenced table (pa) holds the key that `alias`'s columns
// `cols` hold, and meets `parent_condition` (" AND ...", or "").
std::string no_parent_row(const ForeignKey &fk, const std::string &alias, const std::vector<std::string> &cols,
                          const std::string &parent_condition) {
	return " NOT EXISTS (SELECT 1 FROM " + scan_of(fk.parent_kind, fk.parent_name) + " pa WHERE " +
	       key_match(fk, "pa", alias, cols) + parent_condition + ")";
}

// "SELECT [DISTINCT] <the key's columns of ch>" + rows + " AND <each of them> IS NOT NULL".
std::string child_keys(const ForeignKey &fk, const std::string &rows, bool distinct) {
	return std::string("SELECT ") + (distinct ? "DISTINCT " : "") +
	       join_each(fk.child_cols, ", ", [&](size_t i) { return "ch." + fk.child_cols[i]; }) + rows +
	       join_each(fk.child_cols, "", [&](size_t i) { return " AND ch." + fk.child_cols[i] + " IS NOT NULL"; });
}

// Keys of the rows `rows` (" FROM ... ch ... WHERE ...", e.g. rows_holding or a tenant's rows
// found through a path) that reference no parent row (no row of the tenant $1, when
// parent_tenant_column is given). Each distinct key is probed once, in key order (sorted, so the
// probes walk the parent's index and heap forward). `filter_col`, when the rows are those of a
// column holding $1, lets a single-column key on it be probed without reading the rows.
std::string dangling_rows(const ForeignKey &fk, const std::string &child, const std::string &rows,
                          const std::string &filter_col, const std::string &parent_condition) {
	if (fk.child_cols.size() == 1 && fk.child_cols[0] == filter_col)
		return dangling_value(fk, child, parent_condition);
	return "SELECT * FROM (" + child_keys(fk, rows, true) + ") ch WHERE" +
	       no_parent_row(fk, "ch", fk.child_cols, parent_condition);
}

// Removed keys that no restored row brought back but that rows of the child still reference. The
// fence (OFFSET 0) probes the parent first: a restore usually brings back nearly every key it removed.
std::string dangling_removed_keys(const ForeignKey &fk, const std::string &child, const std::string &removed) {
	return "SELECT * FROM (SELECT * FROM " + removed + " r WHERE" + no_parent_row(fk, "r", fk.parent_cols, "") +
	       " OFFSET 0) r WHERE EXISTS (SELECT 1 FROM " + child + " WHERE " + key_match(fk, "r", "ch", fk.child_cols) +
	       ")";
}

// Where both sides are a tenant's rows found by their tenant columns (a restored table's rows and
// those of the restored table it references), a check compares the two sets by a hash join: each
// side costs the tenant's rows, read by the tenant index, where probing the parent's index once per
// key (plan_with_index_probes) costs a random read each. The forms below are planned with hash
// joins allowed (with_hash_joins); scans of whole tables stay disallowed.

// The rows of the child's tenant rows `rows` whose key finds no row of the parent's tenant:
// dangling_rows' result, unsorted and not made distinct first.
std::string dangling_rows_hashed(const ForeignKey &fk, const std::string &rows, const std::string &parent_condition) {
	return child_keys(fk, rows, false) + " AND" + no_parent_row(fk, "ch", fk.child_cols, parent_condition);
}

// A removed key the restored parent's tenant rows do not hold again; where none is left, no
// removed key can dangle and dangling_removed_keys need not probe each of them.
std::string removed_keys_not_restored(const ForeignKey &fk, const std::string &removed,
                                      const std::string &parent_condition) {
	return "SELECT 1 FROM " + removed + " r WHERE" + no_parent_row(fk, "r", fk.parent_cols, parent_condition);
}

template <typename F> auto with_hash_joins(F &&fn) {
	int level = pg_eval([] {
		int nest = NewGUCNestLevel();
		set_config_option("enable_hashjoin", "on", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		return nest;
	});
	auto result = fn();
	pg_call([level] { AtEOXact_GUC(false, level); });
	return result;
}

// A restored table's tenant rows (alias ch): by its tenant column, or through its path.
std::string tenant_rows(const RestoredTable &t, const std::string &child) {
	return t.plan.table.is_path() ? t.plan.table.tenant_rows_sql() : rows_holding(child, t.plan.tenant_column);
}

int tenant_family(Oid type);

// A restored table whose tenant rows are found by its own tenant column through an index leading
// with it (without one, a hash join's side could be a whole index read), not through a path, and
// not a Citus table (whose checks run on the workers, planned by Citus).
bool by_tenant_column(const RestoredTable &t) {
	return !t.plan.table.is_path() && !t.plan.tenant_column.empty() && t.plan.table.has_index && !t.distributed;
}

// The condition (" AND ...") that a row pa of the restored table `parent` is the tenant's, for
// rows of `child` that reference it: by its tenant column, or through its path. None ("") for a
// root table, whose other rows a tenant may reference (a partner account), nor across tenant
// types that built-in equality cannot compare.
std::string same_tenant_condition(const RestoredTable &parent, const RestoredTable &child) {
	int family = tenant_family(parent.plan.tenant_type);
	if (family == 0 || family != tenant_family(child.plan.tenant_type) || parent.plan.table.rows_found_by == "root")
		return "";
	if (parent.plan.table.is_path())
		return " AND " + parent.plan.table.reaches_tenant_sql("pa");
	return " AND pa." + parent.plan.tenant_column + kEq + "$1";
}

// Tenant columns a cross-tenant probe compares with built-in equality: same type family.
int tenant_family(Oid type) {
	switch (type) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
		return 1;
	case TEXTOID:
	case VARCHAROID:
		return 2;
	case UUIDOID:
		return 3;
	default:
		return 0;
	}
}

} // namespace

void ForeignKeyChecks::check(const std::vector<RestoredTable> &tables, int64 backup_id, Aim aim) {
	if (tables.empty())
		return;
	std::string oids = join_each(std::vector<std::string>(tables.size()), ",",
	                             [&](size_t i) { return std::to_string(tables[i].plan.relid); });
	auto restored = [&](Oid relid) -> const RestoredTable * {
		for (const auto &t : tables)
			if (t.plan.relid == relid)
				return &t;
		return nullptr;
	};
	int nest_level = plan_with_index_probes();
	std::set<std::pair<std::string, Oid>> done; // a key between two restored tables needs one check
	for (const auto &fk : load_foreign_keys("c.conrelid IN (" + oids + ") OR c.confrelid IN (" + oids + ")")) {
		std::string child = scan_of(fk.child_kind, fk.child_name) + " ch";
		struct Check {
			std::string sql;
			const RestoredTable *tenant_of; // whose tenant is $1; nullptr: no parameter
			bool same_tenant;               // the probe also asks the referenced row to be the tenant's
			bool hashed = false;            // planned with hash joins (with_hash_joins)
			std::string unless_none;        // hashed, $1 the tenant_of's: no row, and the check is not needed
			const RestoredTable *unless_tenant_of = nullptr;
		};
		std::vector<Check> checks;
		// This tenant's restored rows must find what they reference; in a referenced table that is
		// restored too (a tenant table), the tenant's own row: a restored row may not point into
		// another tenant.
		if (const RestoredTable *c = restored(fk.child)) {
			const RestoredTable *p = restored(fk.parent);
			std::string condition = p ? same_tenant_condition(*p, *c) : "";
			// Of a table restored by applying differences, the rows it wrote (the others found
			// theirs before, and what they reference was kept or is checked as removed below).
			std::string rows = tenant_rows(*c, child);
			auto w = written_.find(c->plan.relid);
			if (w != written_.end() &&
			    std::all_of(fk.child_raw.begin(), fk.child_raw.end(), [&](const std::string &col) {
				    return std::find(w->second.columns.begin(), w->second.columns.end(), col) !=
				           w->second.columns.end();
			    }))
				rows = w->second.rows;
			bool single_by_tenant = fk.child_cols.size() == 1 && fk.child_cols[0] == c->plan.tenant_column;
			if (by_tenant_column(*c) && p && by_tenant_column(*p) && !condition.empty() && w == written_.end() &&
			    !single_by_tenant)
				checks.push_back({dangling_rows_hashed(fk, rows, condition), c, true, true});
			else
				checks.push_back(
				    {dangling_rows(fk, child, rows, c->plan.tenant_column, condition), c, !condition.empty()});
		}
		// Rows of any tenant that referenced the restored table must still find their rows.
		if (const RestoredTable *p = restored(fk.parent)) {
			int pos = tenant_position(fk, p->plan.tenant_column_raw);
			if (written_.count(p->plan.relid)) // applied differences: only the keys it removed
				checks.push_back({dangling_removed_keys(fk, child, removed_keys_.at(fk.oid)), nullptr, false});
			else if (pos >= 0)
				checks.push_back(
				    {dangling_rows(fk, child, rows_holding(child, fk.child_cols[pos]), fk.child_cols[pos], ""), p,
				     false});
			else if (removed_keys_.count(fk.oid)) {
				Check removed{dangling_removed_keys(fk, child, removed_keys_.at(fk.oid)), nullptr, false};
				// Deleted and reloaded: usually every removed key is back among the tenant's rows.
				if (by_tenant_column(*p)) {
					removed.unless_none = removed_keys_not_restored(fk, removed_keys_.at(fk.oid),
					                                                " AND pa." + p->plan.tenant_column + kEq + "$1");
					removed.unless_tenant_of = p;
				}
				checks.push_back(removed);
			}
		}
		for (const auto &c : checks) {
			if (!done.insert({c.sql, c.tenant_of ? c.tenant_of->plan.tenant_type : InvalidOid}).second)
				continue;
			const RestoredTable *t = c.tenant_of;
			// Citus refuses to read placements this transaction modified as another user: a check
			// of a distributed table runs as the role that deleted and loaded it (AsTableOwner).
			std::optional<AsTableOwner> owner;
			if (t && t->distributed)
				owner.emplace(t->plan.relid);
			if (const RestoredTable *u = c.unless_tenant_of)
				if (!with_hash_joins([&] { return first_row(c.unless_none, u->plan.tenant_type, u->tenant, 1); }))
					continue;
			auto run = [&] {
				return t ? first_row(c.sql, t->plan.tenant_type, t->tenant, 1) : first_row(c.sql, InvalidOid, 0, 0);
			};
			std::optional<std::string> key = c.hashed ? with_hash_joins(run) : run();
			if (!key)
				continue;
			// Only on failure: whether the key exists in another tenant, for the message.
			bool other_tenant =
			    c.same_tenant && !first_row(dangling_rows(fk, child, tenant_rows(*t, child), t->plan.tenant_column, ""),
			                                t->plan.tenant_type, t->tenant, 1);
			std::string prefix = "restoring backup " + std::to_string(backup_id) +
			                     " would violate foreign key constraint \"" + fk.name + "\" on table " + fk.child_name;
			if (other_tenant)
				throw SqlError(
				    ERRCODE_FOREIGN_KEY_VIOLATION, prefix + ": a restored row references another tenant's row",
				    "Restored rows of " + fk.child_name + " would reference rows of " + fk.parent_name +
				        " that belong to another tenant (for example key " + *key + "). Nothing was restored.",
				    "A backup may only reference its own tenant's rows of tenant tables.");
			throw SqlError(
			    ERRCODE_FOREIGN_KEY_VIOLATION, prefix,
			    "Rows of " + fk.child_name + " would reference rows of " + fk.parent_name +
			        " that do not exist after the restore (for example key " + *key + "). Nothing was restored.",
			    aim == Aim::Tables ? "Restore " + (restored(fk.child) ? fk.parent_name : fk.child_name) +
			                             " with it (add it to tables =>), or restore the whole backup."
			    : aim == Aim::Rows && restored(fk.child)
			        ? "Add the rows of " + fk.parent_name +
			              " they reference to rows => (the rows that reference a selected row come with "
			              "it)."
			    : aim == Aim::Rows ? "Rows of " + fk.child_name +
			                             " reference rows the restore removes (the selection's rows that the backup "
			                             "lacks): change them first, or restore with mode => 'missing', which removes "
			                             "nothing."
			                       : "Tables that reference tenant tables should be tenant tables themselves, so that "
			                         "they are backed up and restored together.");
		}
	}
	end_index_probes(nest_level); // the settings above end here
}

void ForeignKeyChecks::check_path_rows(const RestoredTable &table, uint64 loaded, int64 backup_id) {
	std::string sql = "SELECT pg_catalog.count(*)" + table.plan.table.tenant_rows_sql();
	const char *q = sql.c_str();
	Oid type = table.plan.tenant_type;
	Datum tenant = table.tenant;
	SqlParams params = SqlParams().datum(type, tenant);
	int level = plan_with_index_probes();
	uint64 found = pg_eval([&] {
		spi_run(q, params, false, SPI_OK_SELECT);
		bool isnull;
		return static_cast<uint64>(DatumGetInt64(spi_datum(0, 1, &isnull)));
	});
	end_index_probes(level);
	if (found != loaded)
		throw SqlError(ERRCODE_FOREIGN_KEY_VIOLATION,
		               "restoring backup " + std::to_string(backup_id) + " would leave " +
		                   std::to_string(loaded > found ? loaded - found : found - loaded) + " row(s) of table " +
		                   table.plan.display_name + " outside the tenant; nothing was restored",
		               "Its rows belong to the tenant through " + table.plan.table.steps.front().constraint + ", but " +
		                   std::to_string(loaded) + " rows were loaded and " + std::to_string(found) +
		                   " reach the tenant through that path.",
		               "The restored rows must reference rows of the same tenant.");
}

} // namespace tb::pg
