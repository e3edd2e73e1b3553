#include "pg/archive/restore_plan.hpp"

#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <map>

extern "C" {
#include "utils/rls.h"
}

namespace tb::pg {

namespace {

struct CurrentColumn {
	std::string type;
	bool generated;
	Oid type_oid;
};

std::map<std::string, CurrentColumn> current_columns(Oid relid) {
	SqlParams of_relid = SqlParams().oid(relid);
	uint64 rows = pg_eval([&] {
		return spi_run("SELECT attname::text, format_type(atttypid, atttypmod), attgenerated <> '', atttypid "
		               "FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
		               of_relid, true, SPI_OK_SELECT);
	});
	std::map<std::string, CurrentColumn> columns;
	for (uint64 r = 0; r < rows; r++) {
		struct {
			char *name, *type, *generated;
			Oid type_oid;
		} raw;
		pg_call([&] {
			bool isnull;
			raw.name = spi_text(r, 1);
			raw.type = spi_text(r, 2);
			raw.generated = spi_text(r, 3);
			raw.type_oid = DatumGetObjectId(spi_datum(r, 4, &isnull));
		});
		columns[raw.name] = {raw.type, raw.generated[0] == 't', raw.type_oid};
	}
	return columns;
}

// The table the archive names must still be a tenant table with the archive's tenant column
// (backup_table_gaps() says why not, if not): a table created by someone else under the name of a
// dropped one is not where the tenant's rows go, nor where its triggers should run.
void refuse_unless_tenant_table(Oid relid, const std::string &column, const std::string &display,
                                const std::string &backup) {
	char *current = nullptr;
	{
		AsExtensionOwner owner; // the catalog is the extension's own
		SqlParams of_relid = SqlParams().oid(relid);
		pg_call([&] {
			if (spi_run("SELECT tenant_column::pg_catalog.text FROM tenant_backup.backup_tables() "
			            "WHERE table_name OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
			            of_relid, true, SPI_OK_SELECT) > 0)
				current = spi_text(0, 1);
		});
	}
	if (!current)
		throw SqlError(ERRCODE_WRONG_OBJECT_TYPE,
		               "table " + display + " of " + backup + " is not a tenant table now; nothing was restored",
		               "tenant_backup.backup_table_gaps() says why, if it has the tenant column.",
		               "Register or re-include it (or trust its owner), then restore again.");
	if (column != current)
		throw SqlError(ERRCODE_DATATYPE_MISMATCH,
		               "table " + display + " of " + backup + " is now a tenant table by column \"" +
		                   std::string(current) + "\", not \"" + column + "\" as in the backup; nothing was restored");
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

TableRestorePlan plan_table_restore(const archive::TableHeader &table, int64 backup_id) {
	TableRestorePlan plan;
	plan.display_name = table.schema + "." + table.name;
	plan.qualified = quoted_name(table.schema, table.name);
	plan.tenant_column = quoted_ident(table.tenant_column);
	plan.tenant_column_raw = table.tenant_column;
	const char *schema = table.schema.c_str(), *name = table.name.c_str();
	plan.relid = pg_eval([schema, name] {
		return RangeVarGetRelid(makeRangeVar(pstrdup(schema), pstrdup(name), -1), RowExclusiveLock, true);
	});
	std::string backup = "backup " + std::to_string(backup_id);
	if (plan.relid == InvalidOid)
		throw SqlError(ERRCODE_UNDEFINED_TABLE,
		               "table " + plan.display_name + " of " + backup + " no longer exists; nothing was restored", "",
		               "Recreate the table, then restore again.");
	Oid relid = plan.relid;
	plan.relkind = pg_eval([relid] { return get_rel_relkind(relid); });
	if (plan.relkind != RELKIND_RELATION && plan.relkind != RELKIND_PARTITIONED_TABLE)
		throw SqlError(ERRCODE_WRONG_OBJECT_TYPE, plan.display_name + " of " + backup + " is no longer a table");

	// COPY FROM does not check privileges or row-level security itself; we do, as COPY would.
	pg_call([relid] {
		AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT | ACL_DELETE | ACL_SELECT);
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

	std::map<std::string, CurrentColumn> now = current_columns(relid);
	auto tenant_col = now.find(table.tenant_column);
	if (tenant_col == now.end())
		throw SqlError(ERRCODE_UNDEFINED_COLUMN, "tenant column \"" + table.tenant_column + "\" of table " +
		                                             plan.display_name + " no longer exists; nothing was restored");
	plan.tenant_type = tenant_col->second.type_oid;
	check_tenant_type(plan.tenant_type, table.tenant_column, plan.display_name);
	refuse_unless_tenant_table(relid, table.tenant_column, plan.display_name, backup);
	refuse_triggers_firing_in_replica_mode(relid, plan.display_name, backup);

	for (const auto &col : table.columns) {
		auto it = now.find(col.name);
		if (it == now.end() || it->second.generated) {
			plan.keep.push_back(false);
			plan.drops_fields = true;
			warn("column \"" + col.name + "\" of table " + plan.display_name + " " +
			     (it == now.end() ? "no longer exists" : "is now a generated column") + "; its values in " + backup +
			     " are skipped");
			continue;
		}
		if (it->second.type != col.type)
			throw SqlError(ERRCODE_DATATYPE_MISMATCH, "column \"" + col.name + "\" of table " + plan.display_name +
			                                              " changed type from " + col.type + " to " + it->second.type +
			                                              " since " + backup + "; nothing was restored");
		plan.keep.push_back(true);
		plan.load.push_back(col.name);
	}
	return plan;
}

} // namespace tb::pg
