#include "pg/archive/restore_into.hpp"

#include "core/archive/archive_reader.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/archived_tuples.hpp"
#include "pg/archive/column_mapping.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/archive/diff_engine.hpp"
#include "pg/archive/restore_plan.hpp"
#include "pg/archive/type_code.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/catalog/read_privileges.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <algorithm>
#include <map>
#include <optional>

extern "C" {
#include "parser/parse_type.h"
}

namespace tb::pg {

namespace {

const char *const kConsequence = "nothing was created";

void run_utility(const std::string &sql) {
	const char *q = sql.c_str();
	pg_call([q] { spi_run(q, SqlParams::none(), false, SPI_OK_UTILITY); });
}

Oid relation_of(const std::string &schema, const std::string &name) {
	const char *s = schema.c_str(), *n = name.c_str();
	return pg_eval([s, n] { return RangeVarGetRelid(makeRangeVar(pstrdup(s), pstrdup(n), -1), NoLock, false); });
}

// The schema the tables go into: created, or an existing one the caller owns that holds nothing.
// Decided before anything of the backup is read.
void prepare_schema(const std::string &schema) {
	std::string quoted = quoted_ident(schema);
	if (schema.rfind("pg_", 0) == 0 || schema == "information_schema")
		throw SqlError(ERRCODE_RESERVED_NAME, "schema " + quoted + " is a system schema; " + kConsequence, "",
		               "Name a new schema: backup_restore_into creates it.");
	Oid caller = pg_eval([] { return GetUserId(); });
	auto found = spi_query(
	    "SELECT (n.nspowner OPERATOR(pg_catalog.=) $2::pg_catalog.oid)::pg_catalog.text, EXISTS (SELECT 1 FROM "
	    "pg_catalog.pg_depend d WHERE d.refclassid OPERATOR(pg_catalog.=) "
	    "'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjid OPERATOR(pg_catalog.=) "
	    "n.oid)::pg_catalog.text FROM pg_catalog.pg_namespace n WHERE n.nspname "
	    "OPERATOR(pg_catalog.=) $1::pg_catalog.name",
	    {schema, std::to_string(caller)});
	if (found.empty()) {
		run_utility("CREATE SCHEMA " + quoted); // owned by the caller
		return;
	}
	if (*found[0][0] != "true")
		throw SqlError(ERRCODE_DUPLICATE_SCHEMA,
		               "schema " + quoted + " exists and belongs to another role; " + kConsequence, "",
		               "Name a new schema: backup_restore_into creates it, owned by you.");
	if (*found[0][1] == "true")
		throw SqlError(ERRCODE_DUPLICATE_SCHEMA, "schema " + quoted + " exists and is not empty; " + kConsequence, "",
		               "Name a new schema (backup_restore_into creates it), or an empty one.");
}

// A table that still exists: LIKE it (columns, types, collations, NOT NULL), with only the columns
// the restore's plan loads. Created by the caller, who owns it.
void create_like(const TableRestorePlan &plan, const std::string &target) {
	run_utility("CREATE TABLE " + target + " (LIKE " + plan.qualified + ")");
	std::string drops;
	for (const auto &[name, column] : current_columns(plan.relid))
		if (std::find(plan.load.begin(), plan.load.end(), name) == plan.load.end())
			drops += (drops.empty() ? "" : ", ") + std::string("DROP COLUMN ") + quoted_ident(name);
	if (!drops.empty())
		run_utility("ALTER TABLE " + target + " " + drops);
}

// A table dropped since the backup: from the archive's column definitions, each type found again
// by its name (as the backup printed it, schema-qualified unless in pg_catalog) and written back by
// format_type: the archive's text never becomes SQL. Returns the plan of its load.
TableRestorePlan create_from_archive(const archive::TableHeader &table, const std::string &target_schema,
                                     const std::string &target_name, int64 id) {
	bool superuser_caller = pg_eval([] { return superuser(); });
	std::string columns;
	Oid tenant_type = InvalidOid;
	for (const auto &c : table.columns) {
		const char *type = c.type.c_str();
		struct {
			Oid typid;
			int32 typmod;
			const char *spelled;
			Oid runs_code_of;
		} t{};
		pg_call([&] {
			parseTypeString(type, &t.typid, &t.typmod, true);
			if (OidIsValid(t.typid)) {
				t.spelled = format_type_with_typemod(t.typid, t.typmod);
				t.runs_code_of = code_owner(t.typid);
			}
		});
		if (!OidIsValid(t.typid))
			throw SqlError(ERRCODE_UNDEFINED_OBJECT, "type " + c.type + " of column " + c.name + " of table " +
			                                             table.schema + "." + table.name + " (dropped since backup " +
			                                             std::to_string(id) + ") no longer exists; " + kConsequence);
		if (superuser_caller && OidIsValid(t.runs_code_of))
			throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE,
			               "cannot recreate table " + table.schema + "." + table.name + " of backup " +
			                   std::to_string(id) + " as a superuser: the type of its column " + c.name +
			                   " runs another role's code; " + kConsequence,
			               "", "Call it as a role that is not a superuser and holds backup.download.");
		if (c.name == table.tenant_column)
			tenant_type = t.typid;
		columns += (columns.empty() ? "" : ", ") + quoted_ident(c.name) + " " + t.spelled;
	}
	std::string target = quoted_name(target_schema, target_name);
	run_utility("CREATE TABLE " + target + " (" + columns + ")");
	TableRestorePlan plan;
	plan.relid = relation_of(target_schema, target_name);
	plan.display_name = table.schema + "." + table.name;
	plan.qualified = target;
	plan.tenant_column = table.tenant_column.empty() ? "" : quoted_ident(table.tenant_column);
	plan.tenant_column_raw = table.tenant_column;
	plan.tenant_type = tenant_type;
	plan.table.tenant_column = table.tenant_column;
	plan.table.tenant_type = tenant_type;
	// Every archived column, as archived: the table was made of them (no drift to map).
	for (const auto &c : table.columns) {
		plan.mapping.keep.push_back(true);
		plan.mapping.load.push_back(c.name);
	}
	plan.keep = plan.mapping.keep;
	plan.load = plan.mapping.load;
	plan.drops_fields = plan.mapping.drops_fields;
	return plan;
}

// A constraint of the copy, added once the rows are in (`clause` of ALTER TABLE: "ADD PRIMARY KEY
// (...)", "ALTER COLUMN c SET NOT NULL"; `what` names it). One the rows do not satisfy (values
// converted since the backup, a column made NOT NULL while the backup ran) is left out with a
// WARNING; the rows stay.
void add_constraint(const std::string &target, const std::string &display_name, const std::string &what,
                    const std::string &clause) {
	std::optional<std::string> failed =
	    try_in_subtransaction([&] { run_utility("ALTER TABLE " + target + " " + clause); });
	if (failed)
		warn("table " + target + " has no " + what + ": " + *failed,
		     "The rows are there; the " + what + " of " + display_name + " does not hold for them.");
}

// "PRIMARY KEY" or "UNIQUE [NULLS NOT DISTINCT]" (...).
void add_key(const std::string &target, const std::string &display_name, const std::string &kind,
             const archive::TableKey &key) {
	std::string columns = join_each(key.columns, ", ", [&](size_t i) { return quoted_ident(key.columns[i]); });
	std::string shown = join_each(key.columns, ", ", [&](size_t i) { return key.columns[i]; });
	add_constraint(target, display_name, (kind == "PRIMARY KEY" ? "primary key (" : "unique key (") + shown + ")",
	               "ADD " + kind + (key.nulls_not_distinct ? " NULLS NOT DISTINCT" : "") + " (" + columns + ")");
}

// A copy holds the tenant column and would be a tenant table itself, joining the tenant's next
// backups and restores: it is excluded, as backup_exclude_table excludes a table (in this
// transaction; the row goes with the table's name, as any exclusion).
void exclude_from_backups(Oid relid) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams of = SqlParams().oid(relid);
	pg_call([&] {
		spi_run("INSERT INTO tenant_backup.registered_tables AS r (tbl, tenant_column, excluded) "
		        "VALUES ($1::pg_catalog.regclass, NULL, true) "
		        "ON CONFLICT ON CONSTRAINT registered_tables_pkey DO UPDATE SET excluded = true",
		        of, false, SPI_OK_INSERT);
	});
}

} // namespace

std::vector<MaterializedTable> restore_into_schema(int64 id, const std::string &schema, AuditedAction &audit) {
	StoredBackup authorized =
	    authorize_backup(id, "restored into a schema", "backup.download", audit, BackupHold::Reading);
	// Every table and column of the backup is shown: the caller must be able to read them all.
	std::vector<ArchivedTable> readable = catalog_tables(id);
	bool restricted = require_read_privileges(readable, id, authorized.tenant, audit.action(), kConsequence);
	prepare_schema(schema);
	OpenedBackup opened = open_backup(authorized, kConsequence, false);
	const StoredBackup &backup = opened.backup;
	// Tables of the backup that share a name are named "schema.table" (one identifier).
	std::map<std::string, int> names;
	for (const auto &entry : archive::read_archive_index(*opened.storage, backup.object_name, reader_options(backup)))
		names[entry.name]++;
	std::vector<TenantTable> now = load_tenant_tables();
	RestoreOptions options;
	options.recreates_dropped = true;
	std::vector<MaterializedTable> out;
	archive::ArchiveReader &reader = *opened.reader;
	while (std::optional<archive::TableHeader> table = reader.next_table()) {
		if (restricted)
			check_header_within(*table, readable, id);
		std::string name = names[table->name] > 1 ? table->schema + "." + table->name : table->name;
		std::string target = quoted_name(schema, name);
		// The restore's planner, reading only (ACCESS SHARE, SELECT): the columns a restore loads.
		RestoredTable r{plan_table_restore(*table, id, now, options, PlanPurpose::Compare), 0};
		bool recreated = r.plan.dropped;
		Oid target_relid;
		if (recreated) {
			r.plan = create_from_archive(*table, schema, name, id);
			target_relid = r.plan.relid;
		} else {
			create_like(r.plan, target);
			target_relid = relation_of(schema, name);
		}
		exclude_from_backups(target_relid);
		if (!r.plan.tenant_column_raw.empty())
			r.tenant = tenant_datum(backup.tenant, r.plan.tenant_type, r.plan.tenant_column_raw, r.plan.display_name);
		// As a restore reads them (archived_tuples.hpp): the tenant checked, the columns mapped.
		ArchivedTuples tuples(reader, *table, r, id, kConsequence);
		uint64 loaded;
		{
			// Decoding and converting values runs the types' code: as the live table's owner when a
			// superuser calls (as the diff engine loads its copies); the caller owns the new table.
			std::optional<AsTableOwner> owner;
			if (!recreated)
				owner.emplace(r.plan.relid);
			loaded = copy_into(target_relid, r.plan.load, tuples.copy_stream());
		}
		if (loaded != reader.table_rows())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           r.plan.display_name + " loaded " + std::to_string(loaded) +
			                                           " rows, the archive records " +
			                                           std::to_string(reader.table_rows()));
		if (!recreated) {
			// Its primary key, built once the rows are in; a key the archived rows no longer satisfy
			// (values converted since) is left out with a WARNING.
			RowKey key = choose_row_key(r.plan.relid, r.plan.load);
			if (key.matched_by == "primary key")
				add_key(target, r.plan.display_name, "PRIMARY KEY", archive::TableKey{key.columns, false});
		} else if (table->constraints) {
			// Dropped since: the NOT NULL columns and keys the backup recorded.
			for (const auto &column : table->constraints->not_null)
				add_constraint(target, r.plan.display_name, "NOT NULL on column " + column,
				               "ALTER COLUMN " + quoted_ident(column) + " SET NOT NULL");
			if (!table->constraints->primary_key.columns.empty())
				add_key(target, r.plan.display_name, "PRIMARY KEY", table->constraints->primary_key);
			for (const auto &unique : table->constraints->unique_keys)
				add_key(target, r.plan.display_name, "UNIQUE", unique);
		} else {
			notice("backup " + std::to_string(id) + " does not record the keys of table " + r.plan.display_name +
			           " (dropped since): its copy " + target + " has no primary key, unique key or NOT NULL",
			       "Archives record them since tenant_backup 0.2.0; a backup taken before, or imported from a "
			       "document, does not.");
		}
		out.push_back({r.plan.display_name, target, loaded});
	}
	return out;
}

} // namespace tb::pg
