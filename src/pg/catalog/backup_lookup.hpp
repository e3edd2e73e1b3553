// Finding the backup an action names, without telling a role that may not act on it anything:
// to a role that holds no permission on the backup's tenant, a backup it may not act on and a
// backup that does not exist get the same denial, which names neither the tenant nor whether
// the id exists. A role holding some permission on the tenant (it knows the tenant) gets the
// precise denial; superusers and the extension's owner the precise "does not exist".
#pragma once
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"

namespace tb::pg {

// How the backups row is held once found.
enum class BackupHold {
	RowLock, // FOR UPDATE: restore and delete, which change the tenant or the row
	Reading, // no row lock (none is allowed in a read-only transaction or on a standby): the
	         // tenant's shared advisory lock, then the row read again (download, export, verify)
};

// The backup `id` if the current user holds `permission` on its tenant; its tenant is set on
// `audit`. Denials are audited. With BackupHold::Reading the tenant's shared lock is held on
// return and the row was read again after taking it, so a delete or restore that committed
// meanwhile (they hold the tenant exclusively) is seen: the backup is then gone, never half
// removed.
StoredBackup find_permitted_backup(int64 id, const char *permission, AuditedAction &audit, BackupHold hold);

} // namespace tb::pg
