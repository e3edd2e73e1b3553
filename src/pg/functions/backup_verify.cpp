// tenant_backup.backup_verify(backup_id bigint)
//   RETURNS TABLE (ok boolean, tables integer, rows bigint, error text)
//
// Checks a backup without restoring it: the archive's SHA-256 and size, then every chunk
// (authenticated, decrypted, decompressed), every row decoded with its column's binary receive
// function as recorded in the archive, and row counts against the catalog. The outcome is
// recorded in backups.verified_at / verify_status / verify_error and returned; a damaged archive
// is an outcome, not an error.
#include "pg/archive/archive_access.hpp"
#include "pg/archive/backup_check.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/catalog.hpp"

using namespace tb::pg;

TB_SQL_FUNCTION(backup_verify) {
	AuditedAction audit("verify"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	// Held by the tenant's shared lock, not a row lock: verify works in a read-only transaction.
	StoredBackup backup = authorize_backup(id, "verified", "backup.view", audit, BackupHold::Reading);

	VerifyOutcome out = verify_backup(backup);
	// Recording the outcome is a write: in a read-only transaction (or on a standby) the verdict
	// is only returned.
	if (bool standby = on_standby(); standby || pg_eval([] { return XactReadOnly; }))
		pg_call([id, standby] {
			ereport(NOTICE,
			        (errmsg("the outcome of verifying backup %lld was not recorded: %s", static_cast<long long>(id),
			                standby ? "the server is a hot standby" : "the transaction is read-only"),
			         standby ? errhint("It is returned here only; verify on the primary to record it.") : 0));
		});
	else
		record_verify_outcome(id, out);
	// What the archive holds was read: recorded even if the caller's transaction rolls back.
	audit.ok_independently(out.ok ? "" : "verification failed: " + out.error);
	spi_end();
	put_outcome_row(fcinfo, out);
	return 0;
}
