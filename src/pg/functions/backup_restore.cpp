// tenant_backup.backup_restore(backup_id bigint)
//   RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint)
//
// Replaces the tenant's rows in every table of the backup with the archived rows, atomically,
// inside the caller's transaction (archive/restore.hpp: the code path that asynchronous restore
// jobs run too).
#include "pg/archive/restore.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/scheduler/async_jobs.hpp"

using namespace tb::pg;

namespace {

void emit_results(FunctionCallInfo fcinfo, const std::vector<RestoredTableResult> &results) {
	for (const auto &r : results) {
		const char *name = r.name.c_str();
		uint64 removed = r.removed, restored = r.restored;
		bool skipped = r.skipped;
		pg_call([=] {
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			Datum values[3] = {CStringGetTextDatum(name), Int64GetDatum(static_cast<int64>(removed)),
			                   Int64GetDatum(static_cast<int64>(restored))};
			bool nulls[3] = {false, skipped, skipped};
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		});
	}
}
} // namespace

TB_SQL_FUNCTION(backup_restore) {
	refuse_on_standby("backup_restore");
	AuditedAction audit("restore"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	RestoreOptions options;
	options.strict = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	std::vector<RestoredTableResult> results = restore_backup(id, audit, options);
	spi_end();
	emit_results(fcinfo, results);
	return 0;
}

// tenant_backup.backup_restore_async(backup_id bigint) RETURNS bigint: the same restore, run by a
// background worker as the current user once the calling transaction commits (async_jobs.hpp);
// checked here first as backup_restore checks before it changes anything. Returns the job's id at
// once: tenant_backup.backup_job(id) tells how it went, backup_progress shows it running.
TB_SQL_FUNCTION(backup_restore_async) {
	refuse_on_standby("backup_restore_async");
	AuditedAction audit("restore_async"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	spi_begin();
	StoredBackup backup = check_restore_allowed(id, audit);
	bool strict = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	int64 job = submit_async_job("restore", backup.tenant, id, std::nullopt, strict);
	audit.ok("job " + std::to_string(job));
	spi_end();
	return Int64GetDatum(job);
}
