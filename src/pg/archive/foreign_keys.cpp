#include "pg/archive/foreign_keys.hpp"

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

struct ForeignKey {
	Oid oid, child, parent;
	std::string name, child_name, parent_name;
	char child_kind, parent_kind;
	std::vector<std::string> child_cols, parent_cols; // quoted, in key order
	std::vector<std::string> parent_raw;              // unquoted parent column names
	std::vector<std::string> equals; // per key column: the constraint's own equality, OPERATOR(schema.name)
};

// The equality built-in types compare with: never one that the search path could supply.
const char *const kEq = " OPERATOR(pg_catalog.=) ";

std::string from(char relkind, const std::string &name) {
	return (relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ") + name;
}

std::string join(const std::vector<std::string> &items, const std::string &sep,
                 const std::function<std::string(size_t)> &fn) {
	std::string out;
	for (size_t i = 0; i < items.size(); i++)
		out += (i ? sep : "") + fn(i);
	return out;
}

// Foreign keys (top-level constraints only: partitions inherit theirs) matching `where`.
std::vector<ForeignKey> load_foreign_keys(const std::string &where) {
	std::string sql = "SELECT c.oid, c.conrelid, c.confrelid, c.conname::pg_catalog.text, "
	                  "  c.conrelid::pg_catalog.regclass::pg_catalog.text, "
	                  "  c.confrelid::pg_catalog.regclass::pg_catalog.text, ch.relkind::pg_catalog.text, "
	                  "  pa.relkind::pg_catalog.text "
	                  "FROM pg_catalog.pg_constraint c "
	                  "JOIN pg_catalog.pg_class ch ON ch.oid OPERATOR(pg_catalog.=) c.conrelid "
	                  "JOIN pg_catalog.pg_class pa ON pa.oid OPERATOR(pg_catalog.=) c.confrelid "
	                  "WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conparentid OPERATOR(pg_catalog.=) 0 AND (" +
	                  where + ") ORDER BY c.conname, c.oid";
	const char *q = sql.c_str();
	uint64 rows = pg_eval([q] { return spi_run(q, SqlParams::none(), true, SPI_OK_SELECT); });
	std::vector<ForeignKey> fks;
	for (uint64 r = 0; r < rows; r++) {
		Oid oids[3];
		char *text[5];
		pg_call([&] {
			bool isnull;
			for (int i = 0; i < 3; i++)
				oids[i] = DatumGetObjectId(spi_datum(r, i + 1, &isnull));
			for (int i = 0; i < 5; i++)
				text[i] = spi_text(r, i + 4);
		});
		fks.push_back({oids[0], oids[1], oids[2], text[0], text[1], text[2], text[3][0], text[4][0], {}, {}, {}, {}});
	}
	for (auto &fk : fks) {
		Oid con = fk.oid;
		SqlParams of_con = SqlParams().oid(con);
		uint64 cols = pg_eval([&] {
			// The key's own equality operators (conpfeqop), as the constraint's triggers use them.
			return spi_run("SELECT pg_catalog.quote_ident(ca.attname), pg_catalog.quote_ident(pa.attname), "
			               "  pa.attname::pg_catalog.text, "
			               "  ' OPERATOR(' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname) "
			               "    OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) o.oprname "
			               "    OPERATOR(pg_catalog.||) ') ', "
			               // A key column whose type reaches the operator only through a cast function of a
			               // role that is not a superuser: the probe would run that role's code.
			               "  EXISTS (SELECT 1 FROM pg_catalog.pg_cast x "
			               "    JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) x.castfunc "
			               "    JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.proowner "
			               "    WHERE x.castmethod OPERATOR(pg_catalog.=) 'f' AND NOT r.rolsuper AND ("
			               "      (x.castsource OPERATOR(pg_catalog.=) ca.atttypid "
			               "       AND x.casttarget OPERATOR(pg_catalog.=) o.oprright) OR "
			               "      (x.castsource OPERATOR(pg_catalog.=) pa.atttypid "
			               "       AND x.casttarget OPERATOR(pg_catalog.=) o.oprleft)))::pg_catalog.text "
			               "FROM pg_catalog.pg_constraint c "
			               "CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(c.conkey), pg_catalog.unnest(c.confkey), "
			               "  pg_catalog.unnest(c.conpfeqop)) WITH ORDINALITY k(ck, pk, op, i) "
			               "JOIN pg_catalog.pg_attribute ca ON ca.attrelid OPERATOR(pg_catalog.=) c.conrelid "
			               "  AND ca.attnum OPERATOR(pg_catalog.=) k.ck "
			               "JOIN pg_catalog.pg_attribute pa ON pa.attrelid OPERATOR(pg_catalog.=) c.confrelid "
			               "  AND pa.attnum OPERATOR(pg_catalog.=) k.pk "
			               "JOIN pg_catalog.pg_operator o ON o.oid OPERATOR(pg_catalog.=) k.op "
			               "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace "
			               "WHERE c.oid OPERATOR(pg_catalog.=) $1 ORDER BY k.i",
			               of_con, true, SPI_OK_SELECT);
		});
		for (uint64 r = 0; r < cols; r++) {
			char *c[5];
			pg_call([&] {
				for (int i = 0; i < 5; i++)
					c[i] = spi_text(r, i + 1);
			});
			if (c[4][0] == 't')
				throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
				               "foreign key constraint \"" + fk.name + "\" on table " + fk.child_name +
				                   " compares its key through a cast written by a role that is not a superuser",
				               "Checking it after a restore would run that role's cast function.",
				               "Give the key columns the same type on both sides.");
			fk.child_cols.emplace_back(c[0]);
			fk.parent_cols.emplace_back(c[1]);
			fk.parent_raw.emplace_back(c[2]);
			fk.equals.emplace_back(c[3]);
		}
	}
	return fks;
}

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

} // namespace

uint64 ForeignKeyChecks::delete_tenant_rows(const RestoredTable &table) {
	const TableRestorePlan &plan = table.plan;
	std::string filter = " WHERE " + plan.tenant_column + kEq + "$1";
	std::string target = from(plan.relkind, plan.qualified);
	std::vector<std::string> ctes;
	std::vector<std::string> returning;            // each column once
	std::map<std::string, std::string> key_tables; // referenced columns -> temporary table
	for (const auto &fk : load_foreign_keys("c.confrelid OPERATOR(pg_catalog.=) " + std::to_string(plan.relid))) {
		if (tenant_position(fk, plan.tenant_column_raw) >= 0 || removed_keys_.count(fk.oid))
			continue; // found by the tenant column; or already remembered by an earlier restore
		std::string cols = join(fk.parent_cols, ", ", [&](size_t i) { return fk.parent_cols[i]; });
		auto known = key_tables.find(cols);
		if (known != key_tables.end()) {
			removed_keys_[fk.oid] = known->second; // another key into the same columns
			continue;
		}
		std::string temp = "pg_temp.tenant_backup_fk_" + std::to_string(++temp_table_counter);
		std::string create =
		    "CREATE TEMP TABLE " + temp + " ON COMMIT DROP AS SELECT " + cols + " FROM " + target + " WITH NO DATA";
		const char *q = create.c_str();
		{
			// Owned by whoever runs the DELETE below (which fills it); runs no user code.
			AsTableOwner owner(plan.relid, AsTableOwner::Mode::Plain);
			pg_call([q] { spi_run(q, SqlParams::none(), false, SPI_OK_UTILITY); });
		}
		ctes.push_back("i" + std::to_string(ctes.size()) + " AS (INSERT INTO " + temp + " SELECT " + cols + " FROM d)");
		for (const auto &c : fk.parent_cols)
			if (std::find(returning.begin(), returning.end(), c) == returning.end())
				returning.push_back(c);
		key_tables[cols] = temp;
		removed_keys_[fk.oid] = temp;
	}
	std::string sql;
	if (ctes.empty()) {
		sql = "DELETE FROM " + target + filter;
	} else {
		sql = "WITH d AS (DELETE FROM " + target + filter + " RETURNING " +
		      join(returning, ", ", [&](size_t i) { return returning[i]; }) + ")";
		for (const auto &cte : ctes)
			sql += ", " + cte;
		sql += " SELECT pg_catalog.count(*) FROM d";
	}
	const char *q = sql.c_str();
	Oid type = plan.tenant_type;
	Datum tenant = table.tenant;
	bool counted = !ctes.empty();
	SqlParams params = SqlParams().datum(type, tenant);
	LoadingScope loading(plan.relid);
	return pg_eval([&] {
		uint64 n = spi_run(q, params, false, counted ? SPI_OK_SELECT : SPI_OK_DELETE);
		if (counted) {
			bool isnull;
			n = static_cast<uint64>(DatumGetInt64(spi_datum(0, 1, &isnull)));
		}
		return n;
	});
}

namespace {

// Work memory of a check: enough to sort a large tenant's keys in a few runs.
constexpr int check_work_mem_kb = 16 * 1024;

// Checks run with plans whose cost grows with the tenant, not with the database: index probes per
// restored key or removed key, never a hash of a whole referenced table nor a scan of a whole
// table; keys are made distinct by sorting (bounded by work_mem, spilling beyond it), not hashing
// (which may take work_mem × hash_mem_multiplier), and work_mem is capped, so that a restore's
// memory does not grow with the tenant nor with a large session work_mem. Returns the GUC nest
// level to end with AtEOXact_GUC; an error ends it with the (sub)transaction.
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

// "pa.a = ch.x AND pa.b = ch.y" with the constraint's own equality operators.
std::string key_match(const ForeignKey &fk, const std::string &parent_alias, const std::string &child_alias,
                      const std::vector<std::string> &child_cols) {
	return join(fk.child_cols, " AND ", [&](size_t i) {
		return parent_alias + "." + fk.parent_cols[i] + fk.equals[i] + child_alias + "." + child_cols[i];
	});
}

// A probe's extra condition that the referenced row is the tenant's ($1): " AND pa.t = $1", or
// "" when the referenced table has no tenant column to compare with.
std::string parent_tenant(const std::string &parent_tenant_column) {
	return parent_tenant_column.empty() ? "" : " AND pa." + parent_tenant_column + kEq + "$1";
}

// A single-column key whose child column is filtered by $1: its rows are dangling exactly when
// some child row holds $1 and no parent row does. Two index probes instead of a pass over the rows.
std::string dangling_value(const ForeignKey &fk, const std::string &child, const std::string &parent_tenant_column) {
	return "SELECT $1 AS " + fk.child_cols[0] + " WHERE EXISTS (SELECT 1 FROM " + child + " WHERE ch." +
	       fk.child_cols[0] + kEq + "$1) AND NOT EXISTS (SELECT 1 FROM " + from(fk.parent_kind, fk.parent_name) +
	       " pa WHERE pa." + fk.parent_cols[0] + fk.equals[0] + "$1" + parent_tenant(parent_tenant_column) + ")";
}

// Keys of rows of `child` whose column `filter_col` holds $1 that reference no parent row (no row
// of the tenant $1, when parent_tenant_column is given). Each distinct key is probed once, in key
// order (sorted, so the probes walk the parent's index and heap forward).
std::string dangling_rows(const ForeignKey &fk, const std::string &child, const std::string &filter_col,
                          const std::string &parent_tenant_column) {
	if (fk.child_cols.size() == 1 && fk.child_cols[0] == filter_col)
		return dangling_value(fk, child, parent_tenant_column);
	std::string keys = join(fk.child_cols, ", ", [&](size_t i) { return "ch." + fk.child_cols[i]; });
	return "SELECT * FROM (SELECT DISTINCT " + keys + " FROM " + child + " WHERE ch." + filter_col + kEq + "$1" +
	       join(fk.child_cols, "", [&](size_t i) { return " AND ch." + fk.child_cols[i] + " IS NOT NULL"; }) +
	       ") ch WHERE NOT EXISTS (SELECT 1 FROM " + from(fk.parent_kind, fk.parent_name) + " pa WHERE " +
	       key_match(fk, "pa", "ch", fk.child_cols) + parent_tenant(parent_tenant_column) + ")";
}

// Removed keys that no restored row brought back but that rows of the child still reference. The
// fence (OFFSET 0) probes the parent first: a restore usually brings back nearly every key it removed.
std::string dangling_removed_keys(const ForeignKey &fk, const std::string &child, const std::string &removed) {
	return "SELECT * FROM (SELECT * FROM " + removed + " r WHERE NOT EXISTS (SELECT 1 FROM " +
	       from(fk.parent_kind, fk.parent_name) + " pa WHERE " + key_match(fk, "pa", "r", fk.parent_cols) +
	       ") OFFSET 0) r WHERE EXISTS (SELECT 1 FROM " + child + " WHERE " + key_match(fk, "r", "ch", fk.child_cols) +
	       ")";
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

void ForeignKeyChecks::check(const std::vector<RestoredTable> &tables, int64 backup_id) {
	if (tables.empty())
		return;
	std::string oids = join(std::vector<std::string>(tables.size()), ",",
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
		std::string child = from(fk.child_kind, fk.child_name) + " ch";
		struct Check {
			std::string sql;
			const RestoredTable *tenant_of; // whose tenant is $1; nullptr: no parameter
			bool same_tenant;               // the probe also asks the referenced row to be the tenant's
		};
		std::vector<Check> checks;
		// This tenant's restored rows must find what they reference; in a referenced table that is
		// restored too (a tenant table), the tenant's own row: a restored row may not point into
		// another tenant.
		if (const RestoredTable *c = restored(fk.child)) {
			const RestoredTable *p = restored(fk.parent);
			bool same = p && tenant_family(p->plan.tenant_type) == tenant_family(c->plan.tenant_type) &&
			            tenant_family(c->plan.tenant_type) != 0;
			checks.push_back(
			    {dangling_rows(fk, child, c->plan.tenant_column, same ? p->plan.tenant_column : ""), c, same});
		}
		// Rows of any tenant that referenced the restored table must still find their rows.
		if (const RestoredTable *p = restored(fk.parent)) {
			int pos = tenant_position(fk, p->plan.tenant_column_raw);
			if (pos >= 0)
				checks.push_back({dangling_rows(fk, child, fk.child_cols[pos], ""), p, false});
			else if (removed_keys_.count(fk.oid))
				checks.push_back({dangling_removed_keys(fk, child, removed_keys_.at(fk.oid)), nullptr, false});
		}
		for (const auto &c : checks) {
			if (!done.insert({c.sql, c.tenant_of ? c.tenant_of->plan.tenant_type : InvalidOid}).second)
				continue;
			const RestoredTable *t = c.tenant_of;
			std::optional<std::string> key =
			    t ? first_row(c.sql, t->plan.tenant_type, t->tenant, 1) : first_row(c.sql, InvalidOid, 0, 0);
			if (!key)
				continue;
			// Only on failure: whether the key exists in another tenant, for the message.
			bool other_tenant = c.same_tenant && !first_row(dangling_rows(fk, child, t->plan.tenant_column, ""),
			                                                t->plan.tenant_type, t->tenant, 1);
			std::string prefix = "restoring backup " + std::to_string(backup_id) +
			                     " would violate foreign key constraint \"" + fk.name + "\" on table " + fk.child_name;
			if (other_tenant)
				throw SqlError(
				    ERRCODE_FOREIGN_KEY_VIOLATION, prefix + ": a restored row references another tenant's row",
				    "Restored rows of " + fk.child_name + " would reference rows of " + fk.parent_name +
				        " that belong to another tenant (for example key " + *key + "). Nothing was restored.",
				    "A backup may only reference its own tenant's rows of tenant tables.");
			throw SqlError(ERRCODE_FOREIGN_KEY_VIOLATION, prefix,
			               "Rows of " + fk.child_name + " would reference rows of " + fk.parent_name +
			                   " that do not exist after the restore (for example key " + *key +
			                   "). Nothing was restored.",
			               "Tables that reference tenant tables should be tenant tables themselves, so that they "
			               "are backed up and restored together.");
		}
	}
	pg_call([nest_level] { AtEOXact_GUC(false, nest_level); }); // the settings above end here
}

} // namespace tb::pg
