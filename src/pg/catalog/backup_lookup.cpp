#include "pg/catalog/backup_lookup.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"

namespace tb::pg {

namespace {

const char *const kAllPermissions[] = {"backup.view", "backup.create", "backup.download", "backup.restore"};

bool holds_any_permission(Oid role, const std::string &tenant) {
	for (const char *p : kAllPermissions)
		if (holds_permission(role, p, tenant))
			return true;
	return false;
}

[[noreturn]] void not_found(int64 id) {
	throw SqlError(ERRCODE_NO_DATA_FOUND, "backup " + std::to_string(id) + " does not exist", "",
	               "tenant_backup.backup_list() shows the existing backups.");
}

// The one denial for "no such backup" and "not yours": the same text, code and hint either way.
[[noreturn]] void refuse_hidden(Oid role, int64 id, const char *permission, const std::string &tenant,
                                const char *action) {
	const char *name = pg_eval([role] { return static_cast<const char *>(GetUserNameFromId(role, false)); });
	std::string message = "permission denied: backup " + std::to_string(id) + " does not exist or role \"" + name +
	                      "\" does not hold " + permission + " on its tenant";
	audit_autonomously({action, tenant, id, "denied", message}); // the audit row names the real tenant
	throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE, message, "",
	               "tenant_backup.backup_list() shows the backups of the tenants the role may view.");
}

} // namespace

StoredBackup find_permitted_backup(int64 id, const char *permission, AuditedAction &audit, BackupHold hold) {
	Oid role = pg_eval([] { return GetUserId(); });
	bool admin = is_backup_admin(role);
	// Read without a lock first: a role that may not act on the backup must not hold its row.
	std::optional<StoredBackup> backup = find_backup(id, false);
	if (!backup) {
		if (admin)
			not_found(id);
		refuse_hidden(role, id, permission, "", audit.action());
	}
	audit.set_tenant(backup->tenant);
	if (!admin && !holds_permission(role, permission, backup->tenant)) {
		if (holds_any_permission(role, backup->tenant))
			require_permission(permission, backup->tenant, id, audit.action()); // the precise denial
		refuse_hidden(role, id, permission, backup->tenant, audit.action());
	}
	if (hold == BackupHold::RowLock) {
		backup = find_backup(id, true); // a backup's tenant never changes: the check above holds
		if (!backup)
			not_found(id);
	}
	if (hold == BackupHold::Reading) {
		// Deletes and restores take the tenant exclusively after locking the row: once the shared
		// lock is ours, none is running, and a fresh read sees the outcome of any that committed.
		lock_tenant(backup->tenant, false);
		backup = find_backup(id, false);
		if (!backup)
			not_found(id);
	}
	return *backup;
}

} // namespace tb::pg
