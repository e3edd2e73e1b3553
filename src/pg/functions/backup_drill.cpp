// tenant_backup.backup_drill(backup_id bigint)
//   RETURNS TABLE (ok boolean, tables integer, rows bigint, error text)
//
// Checks that a backup would restore into the tables as they are now, without touching them
// (restore_drill.hpp says how, and which locks it takes). Needs what a restore needs: the
// backup.restore permission on the tenant, and the privileges a restore checks on its tables. The
// outcome is recorded (backups.drilled_at, drill_status, drill_error; backup_status shows the
// newest backup's), audited, and a failure logged; a restore that would fail is an outcome, not
// an error.
#include "pg/archive/archive_access.hpp"
#include "pg/archive/restore_drill.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/catalog.hpp"

using namespace tb::pg;

TB_SQL_FUNCTION(backup_drill) {
	refuse_on_standby("backup_drill");
	AuditedAction audit("drill"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	StoredBackup backup = authorize_backup(id, "drilled", "backup.restore", audit, BackupHold::Reading);
	DrillOutcome out = drill_backup(backup);
	audit.ok_independently(out.ok ? "" : "drill failed: " + out.error);
	spi_end();
	put_outcome_row(fcinfo, out);
	return 0;
}
