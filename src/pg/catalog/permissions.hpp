// The four backup permissions (backup.view, backup.create, backup.download, backup.restore),
// scoped per tenant, and the elevated scope our functions use for their own catalog.
//
// Our SQL functions run with the caller's rights, so tenant tables are always read and written
// as the caller (a role without SELECT on a table cannot read it through a backup). Only the
// catalog work (tenant_backup.backups, tenant_keys, permissions, audit) runs as the extension's
// owner, inside an AsExtensionOwner scope with a fixed search_path: what SECURITY DEFINER with
// SET search_path would give, limited to the statements that need it.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <string>

namespace tb::pg {

// While alive: current user = the extension's owner, search_path = pg_catalog, pg_temp.
// Nests; an error ends it with the transaction (or subtransaction).
class AsExtensionOwner {
public:
	AsExtensionOwner();
	explicit AsExtensionOwner(Oid owner);
	~AsExtensionOwner();
	AsExtensionOwner(const AsExtensionOwner &) = delete;
	AsExtensionOwner &operator=(const AsExtensionOwner &) = delete;

private:
	Oid saved_user_ = InvalidOid;
	int saved_context_ = 0;
	int exceptions_at_entry_ = 0;
	int guc_level_ = 0;
};

Oid extension_owner();

// The extension's pg_extension row: its owner, and whether this transaction created it (its
// scheduler can start only once it commits).
struct ExtensionRow {
	Oid owner = InvalidOid;
	bool created_now = false;
};
ExtensionRow extension_row();

// Superusers and the extension's owner: all four permissions, and grant/revoke.
bool is_backup_admin(Oid role);

// Whether `role` holds `permission` for `tenant` (directly, through a NULL-tenant grant, or
// through membership in a role that does). backup.restore is never implied by the others.
bool holds_permission(Oid role, const char *permission, const std::string &tenant);

// Refuses with insufficient_privilege, naming the permission and the tenant, unless the current
// user holds the permission; the denial is audited (see audit.hpp) before the error is raised.
// `backup_id` is 0 when no backup is concerned.
void require_permission(const char *permission, const std::string &tenant, int64 backup_id, const char *action);

// One of the four permission names.
bool is_permission_name(const std::string &name);

// Refuses unless the current user is a backup admin (see is_backup_admin); `action` names the
// audited action, `what` completes "only superusers and the owner ... may".
void require_backup_admin(const char *action, const char *what);

// Who reads backup_status and backup_schedules() (issue 19.6): backup admins every tenant
// (All); members of pg_monitor every tenant's health (Health: no last_error, which may quote a
// tenant's rows, unless they hold backup.view on the tenant too); a role holding backup.view on
// some tenants those tenants (Viewer). Anyone else is refused, and the denial audited as `action`.
enum class StatusReader { All, Health, Viewer };
StatusReader require_status_reader(const char *action);
// Whether that reader sees the tenant's row (for Viewer: holds backup.view on it).
bool status_visible(StatusReader reader, Oid role, const std::string &tenant);

} // namespace tb::pg
