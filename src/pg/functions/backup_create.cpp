// tenant_backup.backup_create(tenant text, label text) RETURNS bigint: checks the arguments and
// takes the backup (archive/take_backup.hpp). backup_create_async(tenant, label) RETURNS bigint:
// the same backup, taken by a background worker as the current user once the calling
// transaction commits (scheduler/async_jobs.hpp); returns the job's id.
#include "pg/archive/take_backup.hpp"

#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/tenant_presence.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/scheduler/async_jobs.hpp"

using namespace tb::pg;

namespace {

// The tenant and label arguments, refused as they must be (the refusal audited on `audit`).
NewBackup backup_arguments(FunctionCallInfo fcinfo, AuditedAction &audit) {
	std::optional<std::string> tenant = arg_text(fcinfo, 0);
	if (!tenant)
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant must not be NULL");
	audit.set_tenant(*tenant); // as given, until its canonical spelling is known
	check_text_arg(*tenant, "tenant", kMaxTenantBytes, false);
	NewBackup backup;
	backup.tenant = *tenant;
	backup.label = arg_text(fcinfo, 1);
	if (backup.label)
		check_text_arg(*backup.label, "label", kMaxLabelBytes, true);
	return backup;
}

} // namespace

TB_SQL_FUNCTION(backup_create) {
	refuse_on_standby("backup_create");
	AuditedAction audit("create"); // first: a refused argument is a failed attempt too
	NewBackup backup = backup_arguments(fcinfo, audit);
	spi_begin();
	take_backup(backup, audit);
	// A typo'd tenant ('Acme' for 'acme') makes a completed, empty backup: said, not silent.
	// (Where root tables of tenants exist, take_backup refused a tenant they lack.)
	if (backup.rows == 0)
		notice_tenant_without_rows(backup.tenant, "backup " + std::to_string(backup.id) + " is empty");
	spi_end();
	return Int64GetDatum(backup.id);
}

TB_SQL_FUNCTION(backup_create_async) {
	refuse_on_standby("backup_create_async");
	AuditedAction audit("create_async"); // first: a refused argument is a failed attempt too
	NewBackup backup = backup_arguments(fcinfo, audit);
	spi_begin();
	std::string tenant = check_backup_allowed(backup.tenant, audit);
	int64 job = submit_async_job("backup", tenant, 0, backup.label);
	audit.ok("job " + std::to_string(job));
	spi_end();
	return Int64GetDatum(job);
}
