#include "pg/catalog/permissions.hpp"

#include "pg/catalog/audit.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/search_path.hpp"
#include "pg/boundary/spi.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "utils/fmgroids.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "utils/acl.h"
#include "commands/extension.h"
#include "utils/syscache.h"
}

namespace tb::pg {

namespace {

const char *const kPermissions[] = {"backup.view", "backup.create", "backup.download", "backup.restore"};

std::string role_name(Oid role) {
	return pg_eval([role] { return static_cast<const char *>(GetUserNameFromId(role, false)); });
}

} // namespace

ExtensionRow extension_row() {
	return pg_eval([] {
		Oid ext = get_extension_oid("tenant_backup", false);
		ExtensionRow row;
		Relation rel = table_open(ExtensionRelationId, AccessShareLock);
		ScanKeyData key;
		ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
		SysScanDesc scan = systable_beginscan(rel, ExtensionOidIndexId, true, nullptr, 1, &key);
		HeapTuple tuple = systable_getnext(scan);
		if (HeapTupleIsValid(tuple)) {
			row.owner = reinterpret_cast<Form_pg_extension>(GETSTRUCT(tuple))->extowner;
			row.created_now = TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data));
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		return row;
	});
}

Oid extension_owner() {
	return extension_row().owner;
}

AsExtensionOwner::AsExtensionOwner() : AsExtensionOwner(extension_owner()) {}

AsExtensionOwner::AsExtensionOwner(Oid owner) : exceptions_at_entry_(std::uncaught_exceptions()) {
	pg_call([&] {
		GetUserIdAndSecContext(&saved_user_, &saved_context_);
		guc_level_ = pin_search_path_in_new_level();
		SetUserIdAndSecContext(owner, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
	});
}

AsExtensionOwner::~AsExtensionOwner() {
	// While unwinding from an error the transaction's abort would restore both as well; restoring
	// here keeps the rest of the unwinding (and a successful path) on the caller's rights.
	SetUserIdAndSecContext(saved_user_, saved_context_);
	end_guc_level(guc_level_, exceptions_at_entry_);
}

bool is_backup_admin(Oid role) {
	if (pg_eval([role] { return superuser_arg(role); }))
		return true;
	return role == extension_owner();
}

bool holds_permission(Oid role, const char *permission, const std::string &tenant) {
	// Looked up once: this runs for every row that row-level security filters.
	Oid extension = extension_owner();
	if (role == extension || pg_eval([role] { return superuser_arg(role); }))
		return true;
	AsExtensionOwner owner(extension);
	SqlParams params = SqlParams().text(std::string(permission)).text(tenant).oid(role);
	return pg_eval([&] {
		return spi_run("SELECT 1 FROM tenant_backup.permissions p "
		               "WHERE p.permission = $1 AND (p.tenant IS NULL OR p.tenant = $2) "
		               "  AND pg_catalog.pg_has_role($3, p.role_id, 'MEMBER')",
		               params, true, SPI_OK_SELECT, 1) > 0;
	});
}

void require_permission(const char *permission, const std::string &tenant, int64 backup_id, const char *action) {
	Oid role = pg_eval([] { return GetUserId(); });
	if (holds_permission(role, permission, tenant))
		return;
	std::string message = "permission denied: role \"" + role_name(role) + "\" does not hold " + permission +
	                      " on tenant \"" + tenant + "\"";
	audit_autonomously({action, tenant, backup_id, "denied", message});
	throw SqlError(
	    ERRCODE_INSUFFICIENT_PRIVILEGE, message, "",
	    std::string("A superuser or the extension's owner can grant it: SELECT tenant_backup.backup_grant('") +
	        role_name(role) + "', '" + permission + "', <tenant>).");
}

void require_backup_admin(const char *action, const char *what) {
	Oid role = pg_eval([] { return GetUserId(); });
	if (is_backup_admin(role))
		return;
	std::string message =
	    "permission denied: only superusers and the owner of extension tenant_backup may " + std::string(what);
	audit_autonomously({action, "", 0, "denied", message});
	throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE, message);
}

StatusReader require_status_reader(const char *action) {
	Oid role = pg_eval([] { return GetUserId(); });
	if (is_backup_admin(role))
		return StatusReader::All;
	if (pg_eval([role] { return has_privs_of_role(role, ROLE_PG_MONITOR); }))
		return StatusReader::Health;
	bool viewer;
	{
		AsExtensionOwner owner;
		SqlParams params = SqlParams().oid(role);
		viewer = pg_eval([&] {
			return spi_run("SELECT 1 FROM tenant_backup.permissions p WHERE p.permission = 'backup.view' "
			               "AND pg_catalog.pg_has_role($1, p.role_id, 'MEMBER') LIMIT 1",
			               params, true, SPI_OK_SELECT, 1) > 0;
		});
	}
	if (viewer)
		return StatusReader::Viewer;
	std::string message = "permission denied: role \"" + role_name(role) +
	                      "\" may not read backup status or schedules: it holds backup.view on no tenant";
	audit_autonomously({action, "", 0, "denied", message});
	throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE, message,
	               "Backup admins (superusers, the extension's owner) read every tenant's; members of pg_monitor "
	               "every tenant's health; a role holding backup.view on a tenant that tenant's.",
	               "A backup admin can grant it: SELECT tenant_backup.backup_grant('" + role_name(role) +
	                   "', 'backup.view', <tenant>), or GRANT pg_monitor TO " + role_name(role) + ".");
}

bool status_visible(StatusReader reader, Oid role, const std::string &tenant) {
	return reader != StatusReader::Viewer || holds_permission(role, "backup.view", tenant);
}

bool is_permission_name(const std::string &name) {
	for (const char *p : kPermissions)
		if (name == p)
			return true;
	return false;
}

} // namespace tb::pg
