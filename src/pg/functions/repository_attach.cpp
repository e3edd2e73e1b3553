// tenant_backup.backup_repository_scan(name) and backup_attach(name, tenant, object_name,
// trust_unauthenticated): what a repository holds, by its own records, and bringing it into this
// catalog (repository/self_description.hpp). Superusers only.
#include "pg/repository/self_description.hpp"

#include "core/error.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/srf_rows.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/registry.hpp"

extern "C" {
#include "commands/event_trigger.h"
}

using namespace tb::pg;

namespace {

SqlValue opt(const std::optional<int64> &v) {
	return v ? SqlValue(std::to_string(*v)) : std::nullopt;
}

SqlValue text_or_null(const std::string &s) {
	return s.empty() ? std::nullopt : SqlValue(s);
}

} // namespace

// backup_repository_scan(name text) RETURNS TABLE (object_name text, state text, backup_id bigint,
// original_backup_id bigint, tenant text, kind text, label text, snapshot_at timestamptz,
// size_bytes bigint, encrypted boolean, authenticated boolean, source text, detail text)
TB_SQL_FUNCTION(backup_repository_scan) {
	AuditedAction audit("repository_scan");
	spi_begin();
	require_superuser("repository_scan", "scan a repository");
	std::string name = required_text_arg(fcinfo, 0, "name", 1024);
	SrfRows out(fcinfo);
	size_t count = 0;
	for (const FoundBackup &f : scan_repository(name)) {
		out.add({f.object_name, f.state, opt(f.local_id), opt(f.original_id), text_or_null(f.tenant),
		         text_or_null(f.kind), text_or_null(f.label), text_or_null(f.snapshot_at), opt(f.size_bytes),
		         f.state == "damaged" || f.state == "no_record" ? std::nullopt : SqlValue(f.encrypted ? "t" : "f"),
		         std::string(f.authenticated ? "t" : "f"), text_or_null(f.source), text_or_null(f.detail)});
		count++;
	}
	audit.ok(name + ": " + std::to_string(count) + " backup(s) found");
	spi_end();
	return 0;
}

// backup_attach(name text, tenant text DEFAULT NULL, object_name text DEFAULT NULL,
// trust_unauthenticated boolean DEFAULT false, source_database text DEFAULT NULL, allow_deleted boolean
// DEFAULT false) RETURNS TABLE (backup_id bigint,
// original_backup_id bigint, tenant text, object_name text, outcome text, detail text)
TB_SQL_FUNCTION(backup_attach) {
	refuse_on_standby("backup_attach");
	AuditedAction audit("attach");
	spi_begin();
	require_superuser("attach", "attach backups");
	std::string name = required_text_arg(fcinfo, 0, "name", 1024);
	std::string tenant = bounded_text_arg(fcinfo, 1, "tenant", kMaxTenantBytes, false).value_or("");
	std::string object = bounded_text_arg(fcinfo, 2, "object_name", 1024, false).value_or("");
	bool trust = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	std::string source = bounded_text_arg(fcinfo, 4, "source_database", NAMEDATALEN, false).value_or("");
	bool allow_deleted = PG_NARGS() > 5 && !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
	SrfRows out(fcinfo);
	size_t attached = 0, refused = 0;
	for (const AttachedBackup &a : attach_backups(name, tenant, object, trust, source, allow_deleted)) {
		out.add({opt(a.backup_id), opt(a.found.original_id), text_or_null(a.found.tenant), a.found.object_name,
		         a.outcome, text_or_null(a.detail)});
		attached += a.outcome == "attached";
		refused += a.outcome == "refused";
	}
	audit.ok(name + ": " + std::to_string(attached) + " attached, " + std::to_string(refused) + " refused");
	spi_end();
	return 0;
}

// _location(repository text, object_name text, tenant text) RETURNS text: where an object of a
// repository is now (a path or URL), for display to those who may view the tenant's backups;
// NULL when the repository cannot be opened. The catalog records
// copies by repository name and object name only, so a moved directory or a changed URL is shown
// as it is now.
TB_SQL_FUNCTION(tenant_backup_location) {
	std::optional<std::string> repository = arg_text(fcinfo, 0), object = arg_text(fcinfo, 1),
	                           tenant = arg_text(fcinfo, 2);
	if (!repository || !object || !tenant)
		PG_RETURN_NULL();
	spi_begin();
	std::string where;
	auto may = spi_query("SELECT tenant_backup._may('backup.view', $1)", {*tenant}, true);
	if (may.empty() || may[0][0].value_or("f") != "t") {
		spi_end();
		PG_RETURN_NULL();
	}
	try {
		where = open_storage(*repository)->describe(*object);
	} catch (const SqlError &) {
	} catch (const tb::Error &e) {
		if (e.kind() == tb::ErrorKind::Cancelled)
			throw;
	}
	spi_end();
	if (where.empty())
		PG_RETURN_NULL();
	const char *w = where.c_str();
	return pg_eval([w] { return PointerGetDatum(cstring_to_text(w)); });
}

// _refuse_drop() RETURNS event_trigger, on ddl_command_start for DROP EXTENSION and DROP SCHEMA
// (of the extension's schema, which CASCADE would take the extension with), and DROP OWNED (of a
// role owning the extension or its schema, which it drops with them): refuses to drop
// tenant_backup while its catalog holds backups or tenant keys, unless tenant_backup.drop_confirmed
// is on. The statement's parse tree names the extensions dropped or the roles (a C event trigger
// sees it), and the trigger fires in every session, the library loaded or not.
TB_SQL_FUNCTION(tenant_backup_refuse_drop) {
	const char *owned_by = nullptr; // DROP OWNED BY: the roles' OIDs, as an oid[] literal
	bool schema_dropped = false;
	bool ours = pg_eval([&] {
		if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
			elog(ERROR, "tenant_backup._refuse_drop() must be called as an event trigger");
		Node *tree = reinterpret_cast<EventTriggerData *>(fcinfo->context)->parsetree;
		if (tree && IsA(tree, DropOwnedStmt)) {
			StringInfoData roles;
			initStringInfo(&roles);
			appendStringInfoChar(&roles, '{');
			ListCell *cell;
			foreach (cell, reinterpret_cast<DropOwnedStmt *>(tree)->roles) {
				Oid role = get_rolespec_oid(lfirst_node(RoleSpec, cell), true);
				if (OidIsValid(role))
					appendStringInfo(&roles, "%s%u", roles.len > 1 ? "," : "", role);
			}
			appendStringInfoChar(&roles, '}');
			owned_by = roles.data;
			return true;
		}
		// DROP EXTENSION tenant_backup, or DROP SCHEMA tenant_backup (CASCADE takes the extension)
		if (!tree || !IsA(tree, DropStmt))
			return false;
		ObjectType type = reinterpret_cast<DropStmt *>(tree)->removeType;
		if (type != OBJECT_EXTENSION && type != OBJECT_SCHEMA)
			return false;
		ListCell *cell;
		foreach (cell, reinterpret_cast<DropStmt *>(tree)->objects)
			if (IsA(lfirst(cell), String) && strcmp(strVal(lfirst(cell)), "tenant_backup") == 0) {
				schema_dropped = type == OBJECT_SCHEMA;
				return true;
			}
		return false;
	});
	if (!ours || setting_drop_confirmed())
		return 0;
	spi_begin();
	// The statement run, named as it was: DROP SCHEMA takes the extension with its schema.
	std::string statement = schema_dropped ? "DROP SCHEMA tenant_backup would drop extension tenant_backup and destroy"
	                                       : "DROP EXTENSION tenant_backup would destroy";
	if (owned_by) {
		// The roles of the statement that own the extension or its schema (DROP OWNED drops both,
		// the extension with its catalog); other roles' objects are none of ours.
		auto owners = spi_query("SELECT string_agg(quote_ident(r.rolname), ', ' ORDER BY r.rolname) FROM pg_roles r "
		                        "WHERE r.oid = ANY ($1::oid[]) AND (r.oid IN (SELECT e.extowner FROM pg_extension e "
		                        "WHERE e.extname = 'tenant_backup') OR r.oid IN (SELECT n.nspowner FROM pg_namespace n "
		                        "WHERE n.nspname = 'tenant_backup'))",
		                        {std::string(owned_by)}, true);
		if (!owners.at(0)[0]) {
			spi_end();
			return 0;
		}
		statement = "DROP OWNED BY " + *owners[0][0] +
		            " would drop extension tenant_backup (the role owns it or its schema) and destroy";
	}
	std::vector<SqlRow> counts;
	{
		AsExtensionOwner owner;
		// Own completed backups with an archive that no repository describes yet (described_at:
		// the backups of 0.1.0 before backup_sync(), or a record that could not be written):
		// attach could not bring those back, so the error must not say it would.
		counts = spi_query("SELECT (SELECT count(*) FROM tenant_backup.backups WHERE status = 'completed'), "
		                   "(SELECT count(*) FROM tenant_backup.tenant_keys), "
		                   "(SELECT count(*) FROM tenant_backup.repositories), "
		                   "(SELECT count(*) FROM tenant_backup.backups WHERE status = 'completed' "
		                   "   AND original_id IS NULL AND object_name IS NOT NULL AND described_at IS NULL)",
		                   {}, true);
	}
	spi_end();
	std::string backups = *counts[0][0], keys = *counts[0][1], repositories = *counts[0][2],
	            undescribed = *counts[0][3];
	if (backups == "0" && keys == "0")
		return 0;
	std::string message = statement + " the catalog of " + backups + " backup(s), " + keys + " tenant key(s) and " +
	                      repositories + " registered repository(ies)";
	if (undescribed != "0")
		throw SqlError(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
		               message + "; " + undescribed +
		                   " of the backups have no record in any repository yet, so attach could not bring "
		                   "them back",
		               "They were taken before the update to 0.2.0, or their record could not be written then. Run "
		               "SELECT * FROM tenant_backup.backup_sync() first: it writes every backup's record and its "
		               "tenant's wrapped key beside the archives (a failed row says which repository it could "
		               "not reach); then the archives stay in the repositories and backup_attach brings them back "
		               "after CREATE EXTENSION.",
		               "SET tenant_backup.drop_confirmed = on to drop it anyway: those backups could then never be "
		               "restored.");
	throw SqlError(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST, message,
	               "The archives stay in the repositories, each with its record and its tenant's wrapped key: after "
	               "CREATE EXTENSION tenant_backup, with the same master key configured, "
	               "tenant_backup.backup_attach('local') (and, after backup_repository_add, each other "
	               "repository) brings them back. Registered repositories and schedules are not in the "
	               "repositories: note them first.",
	               "SET tenant_backup.drop_confirmed = on to drop it anyway.");
}
