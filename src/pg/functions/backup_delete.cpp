// tenant_backup.backup_delete(backup_id bigint): removes the catalog row now and every copy of the
// archive when the transaction commits (so a rolled-back delete loses nothing).
#include "pg/catalog/audit.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/catalog/backup_lookup.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"

using namespace tb::pg;

TB_SQL_FUNCTION(backup_delete) {
	refuse_on_standby("backup_delete");
	AuditedAction audit("delete"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	spi_begin();
	// Deleting a restore point takes away a way back: the explicitly granted permission.
	StoredBackup backup = find_permitted_backup(id, "backup.restore", audit, BackupHold::RowLock);
	if (backup.status == "running")
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "backup " + std::to_string(id) + " is still running and cannot be deleted");
	lock_tenant(backup.tenant, true);                 // not while a restore of the tenant reads the archive
	remove_copies_at_commit(backup, "backup_delete"); // every copy, in every repository
	delete_backup_row(id);
	audit.ok();
	spi_end();
	PG_RETURN_VOID();
}
