// tenant_backup.backup_create(tenant text, label text) RETURNS bigint: checks the arguments and
// takes the backup (archive/take_backup.hpp).
#include "pg/archive/take_backup.hpp"

#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/tenant_presence.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"

using namespace tb::pg;

TB_SQL_FUNCTION(backup_create) {
	refuse_on_standby("backup_create");
	AuditedAction audit("create"); // first: a refused argument is a failed attempt too
	std::optional<std::string> tenant = arg_text(fcinfo, 0);
	if (!tenant)
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant must not be NULL");
	audit.set_tenant(*tenant); // as given, until take_backup knows its canonical spelling
	check_text_arg(*tenant, "tenant", kMaxTenantBytes, false);
	NewBackup backup;
	backup.tenant = *tenant;
	backup.label = arg_text(fcinfo, 1);
	if (backup.label)
		check_text_arg(*backup.label, "label", kMaxLabelBytes, true);

	spi_begin();
	take_backup(backup, audit);
	// A typo'd tenant ('Acme' for 'acme') makes a completed, empty backup: said, not silent.
	// (Where root tables of tenants exist, take_backup refused a tenant they lack.)
	if (backup.rows == 0)
		notice_tenant_without_rows(backup.tenant, "backup " + std::to_string(backup.id) + " is empty");
	spi_end();
	return Int64GetDatum(backup.id);
}
