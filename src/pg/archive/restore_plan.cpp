#include "pg/archive/restore_plan.hpp"

#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <map>
#include <optional>

extern "C" {
#include "utils/rls.h"
}

namespace tb::pg {

namespace {

std::string describe_path(const std::vector<archive::PathStep> &path) {
	std::string out;
	for (const auto &step : path)
		out += (out.empty() ? "" : ", then ") + step.constraint + " -> " + step.schema + "." + step.name;
	return out;
}

// The table the archive names must still be a tenant table whose rows are found as at the backup
// (backup_table_gaps() says why not, if not): a table created by someone else under the name of a
// dropped one is not where the tenant's rows go, nor where its triggers should run; and rows found
// through other foreign keys today are not the rows the backup holds.
const TenantTable &refuse_unless_found_alike(Oid relid, const archive::TableHeader &table, const std::string &display,
                                             const std::string &backup, const std::vector<TenantTable> &now) {
	const TenantTable *current = nullptr;
	for (const auto &t : now)
		if (t.relid == relid)
			current = &t;
	if (!current)
		throw SqlError(ERRCODE_WRONG_OBJECT_TYPE,
		               "table " + display + " of " + backup + " is not a tenant table now; nothing was restored",
		               "tenant_backup.backup_table_gaps() says why, if it holds tenant rows.",
		               "Register or re-include it (or trust its owner), then restore again.");
	if (!table.path.empty() || current->is_path()) {
		if (table.path != current->steps)
			throw SqlError(ERRCODE_DATATYPE_MISMATCH,
			               "the rows of table " + display + " are found differently now than in " + backup +
			                   "; nothing was restored",
			               "In the backup: " +
			                   (table.path.empty() ? "by tenant column \"" + table.tenant_column + "\""
			                                       : "through " + describe_path(table.path)) +
			                   ". Now: " +
			                   (current->is_path() ? "through " + describe_path(current->steps)
			                                       : "by tenant column \"" + current->tenant_column + "\"") +
			                   ".",
			               "Restore the foreign keys (or tables) of the backup's path, or declare it with "
			               "tenant_backup.backup_register_table(..., via_foreign_key => ...).");
		return *current;
	}
	if (table.tenant_column != current->tenant_column)
		throw SqlError(ERRCODE_DATATYPE_MISMATCH, "table " + display + " of " + backup +
		                                              " is now a tenant table by column \"" + current->tenant_column +
		                                              "\", not \"" + table.tenant_column +
		                                              "\" as in the backup; nothing was restored");
	return *current;
}

// A path table's tenant rows are deleted by a join along its path, run by whoever deletes (the
// table's owner when a superuser restores): that role must read every table of the path, with no
// row-level security hiding rows, or the delete would find fewer rows than the tenant has.
void refuse_unreadable_path(const TableRestorePlan &plan, const std::string &backup) {
	for (const auto &step : plan.table.path) {
		Oid child = plan.relid, parent = step.parent;
		const char *problem = pg_eval([child, parent] {
			Oid runs_as = superuser() ? relation_owner(child) : GetUserId();
			if (pg_class_aclcheck(parent, runs_as, ACL_SELECT) != ACLCHECK_OK)
				return "may not read";
			if (check_enable_rls(parent, runs_as, true) == RLS_ENABLED)
				return "is subject to row-level security on";
			return static_cast<const char *>(nullptr);
		});
		if (problem)
			throw SqlError(
			    ERRCODE_INSUFFICIENT_PRIVILEGE,
			    "cannot restore table " + plan.display_name + " of " + backup + ": the role that deletes its rows " +
			        problem + " table " + step.parent_name + " of its path; nothing was restored",
			    "A superuser's restore deletes as the table's owner; others delete as themselves.",
			    "GRANT SELECT ON " + step.parent_name + " to that role (and let it bypass row-level security).");
	}
}

// The load runs in replica mode, so that foreign-key and user triggers stay off: a user trigger
// that fires there anyway (ENABLE ALWAYS or ENABLE REPLICA) would run with foreign keys
// unenforced, and could leave another tenant's rows dangling. Refused, naming them.
void refuse_triggers_firing_in_replica_mode(Oid relid, const std::string &display, const std::string &backup) {
	std::string names;
	SqlParams of_relid = SqlParams().oid(relid);
	uint64 rows = pg_eval([&] {
		return spi_run("SELECT pg_catalog.quote_ident(tgname) FROM pg_catalog.pg_trigger "
		               "WHERE tgrelid OPERATOR(pg_catalog.=) $1 AND NOT tgisinternal "
		               "AND tgenabled OPERATOR(pg_catalog.=) ANY ('{A,R}'::pg_catalog.\"char\"[]) ORDER BY 1",
		               of_relid, true, SPI_OK_SELECT);
	});
	for (uint64 r = 0; r < rows; r++) {
		const char *name = pg_eval([r] { return static_cast<const char *>(spi_text(r, 1)); });
		names += (names.empty() ? "" : ", ") + std::string(name);
	}
	if (!names.empty())
		throw SqlError(
		    ERRCODE_FEATURE_NOT_SUPPORTED,
		    "cannot restore table " + display + " of " + backup + ": its trigger(s) " + names +
		        " fire even while a restore loads rows (ENABLE ALWAYS or ENABLE REPLICA); nothing was restored",
		    "A restore loads with foreign keys and user triggers off; such a trigger would run with foreign "
		    "keys unenforced.",
		    "Disable it for the restore in the same transaction (ALTER TABLE ... DISABLE TRIGGER ...; SELECT "
		    "tenant_backup.backup_restore(...); ALTER TABLE ... ENABLE ALWAYS TRIGGER ...).");
}

} // namespace

TableRestorePlan plan_table_restore(const archive::TableHeader &table, int64 backup_id,
                                    const std::vector<TenantTable> &now, const RestoreOptions &options,
                                    PlanPurpose purpose) {
	bool writes = purpose == PlanPurpose::Restore;
	TableRestorePlan plan;
	plan.display_name = table.schema + "." + table.name;
	plan.qualified = quoted_name(table.schema, table.name);
	plan.tenant_column = table.tenant_column.empty() ? "" : quoted_ident(table.tenant_column);
	plan.tenant_column_raw = table.tenant_column;
	const char *schema = table.schema.c_str(), *name = table.name.c_str();
	plan.relid = pg_eval([schema, name, writes] {
		return RangeVarGetRelid(makeRangeVar(pstrdup(schema), pstrdup(name), -1),
		                        writes ? RowExclusiveLock : AccessShareLock, true);
	});
	std::string backup = "backup " + std::to_string(backup_id);
	if (plan.relid == InvalidOid) // renamed since? (column_mapping.hpp)
		if (std::optional<RenamedTable> renamed = find_renamed_table(table, backup)) {
			plan.relid = renamed->relid;
			plan.display_name = renamed->schema + "." + renamed->name;
			plan.qualified = quoted_name(renamed->schema, renamed->name);
			notice("table " + table.schema + "." + table.name + " of " + backup + " is restored into table " +
			       plan.display_name + " (renamed since; " + renamed->found_by + ")");
		}
	if (plan.relid == InvalidOid && !options.strict) {
		if (!options.recreates_dropped)
			warn("table " + plan.display_name + " of " + backup + " no longer exists; its rows are skipped",
			     "If it was renamed, SET tenant_backup.restore_renames = '" + plan.display_name +
			         "=schema.new_name' and restore again.");
		plan.dropped = true;
		return plan;
	}
	if (plan.relid == InvalidOid)
		throw SqlError(ERRCODE_UNDEFINED_TABLE,
		               "table " + plan.display_name + " of " + backup + " no longer exists; nothing was restored", "",
		               "Recreate the table (or, if it was renamed, SET tenant_backup.restore_renames = '" +
		                   plan.display_name +
		                   "=schema.new_name'), then restore again; a restore without strict "
		                   "skips it.");
	Oid relid = plan.relid;
	plan.relkind = pg_eval([relid] { return get_rel_relkind(relid); });
	if (plan.relkind != RELKIND_RELATION && plan.relkind != RELKIND_PARTITIONED_TABLE)
		throw SqlError(ERRCODE_WRONG_OBJECT_TYPE, plan.display_name + " of " + backup + " is no longer a table");

	// COPY FROM does not check privileges or row-level security itself; we do, as COPY would.
	pg_call([relid, writes] {
		AclResult acl =
		    pg_class_aclcheck(relid, GetUserId(), writes ? ACL_INSERT | ACL_DELETE | ACL_SELECT : ACL_SELECT);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
		// Checked for the role that runs the DELETE and COPY: the table's owner when a superuser
		// restores (AsTableOwner), so FORCE ROW LEVEL SECURITY cannot filter them silently.
		Oid runs_as = superuser() ? relation_owner(relid) : InvalidOid;
		if (check_enable_rls(relid, runs_as, false) == RLS_ENABLED)
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			                errmsg("cannot restore into table \"%s\": row-level security applies to the current user",
			                       get_rel_name(relid))));
	});

	std::map<std::string, CurrentColumn> columns = current_columns(relid);
	if (!table.tenant_column.empty()) {
		auto tenant_col = columns.find(table.tenant_column);
		if (tenant_col == columns.end())
			throw SqlError(ERRCODE_UNDEFINED_COLUMN, "tenant column \"" + table.tenant_column + "\" of table " +
			                                             plan.display_name + " no longer exists; nothing was restored");
		check_tenant_type(tenant_col->second.type_oid, table.tenant_column, plan.display_name);
	}
	plan.table = refuse_unless_found_alike(relid, table, plan.display_name, backup, now);
	plan.tenant_type = plan.table.tenant_type;
	refuse_unreadable_path(plan, backup);
	if (writes)
		refuse_triggers_firing_in_replica_mode(relid, plan.display_name, backup);

	// The archive's attnums name this table's columns only if it is the very table archived.
	bool same_table = same_database(table) && table.relid == relid;
	ColumnPlan fields =
	    plan_columns(table.columns, relid, plan.display_name, backup, "nothing was restored",
	                 table.schema + "." + table.name, same_table ? table.attnums : std::vector<int32_t>{});
	plan.keep = fields.keep;
	plan.load = fields.load;
	plan.drops_fields = fields.drops_fields;
	plan.mapping = std::move(fields);
	return plan;
}

} // namespace tb::pg
