// tenant_backup.backup_cancel(job_id bigint) RETURNS boolean: cancels an asynchronous job
// (scheduler/async_jobs.hpp) of the current user's (a backup admin's: anyone's). A queued job never
// starts; a running one is cancelled at once, rolls back, and is recorded cancelled once this
// transaction commits. False when the job had ended already.
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/scheduler/async_jobs.hpp"

using namespace tb::pg;

TB_SQL_FUNCTION(backup_cancel) {
	refuse_on_standby("backup_cancel");
	AuditedAction audit("cancel"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "job_id");
	spi_begin();
	bool cancelled = cancel_async_job(id, audit);
	audit.ok("job " + std::to_string(id) + (cancelled ? " cancelled" : " had ended"));
	spi_end();
	return BoolGetDatum(cancelled);
}
