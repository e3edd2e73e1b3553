// tenant_backup._backup_progress(): the running backups and restores of progress.hpp's
// shared-memory slots, as rows of the backup_progress view.
#include "pg/shared_memory/progress.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/srf_rows.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/permissions.hpp"

using namespace tb::pg;

namespace {

// The full tenant of a slot: the slot's own, or, when clipped, the catalog's for the backup (as
// the extension's owner: row-level security would hide it). nullopt when it has no catalog row.
std::optional<std::string> full_tenant(const RunningBackup &backup) {
	if (!backup.tenant_clipped)
		return backup.tenant;
	AsExtensionOwner owner;
	auto rows = spi_query("SELECT tenant FROM tenant_backup.backups WHERE id = $1::bigint",
	                      {std::to_string(backup.backup_id)}, true);
	return rows.empty() ? std::nullopt : rows[0][0];
}

} // namespace

// The backups and restores running in this database whose tenant the current user may view
// (backup.view, checked on the full tenant), and the asynchronous jobs it submitted.
TB_SQL_FUNCTION(tenant_backup_progress) {
	// An empty result would say "nothing runs" where nothing can be known.
	if (!progress_available())
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "tenant_backup.backup_progress needs tenant_backup in shared_preload_libraries", "",
		               "Its counters live in shared memory, sized at server start: add tenant_backup to "
		               "shared_preload_libraries and restart the server.");
	SrfRows out(fcinfo);
	spi_begin();
	Oid role = pg_eval([] { return GetUserId(); });
	Oid database = pg_eval([] { return MyDatabaseId; });
	for (const RunningBackup &backup : running_backups(database)) {
		std::optional<std::string> tenant = full_tenant(backup);
		// A clipped tenant without a catalog row is no tenant a grant names: admins only.
		// The submitter of an asynchronous job sees it, as backup_jobs shows it its job.
		bool own_job = backup.job_id != 0 && backup.requested_by == role;
		if (!own_job && (tenant ? !holds_permission(role, "backup.view", *tenant) : !is_backup_admin(role)))
			continue;
		TimestampTz started = backup.started_at;
		const char *started_text = pg_eval([started] { return timestamptz_to_str(started); });
		out.add({std::to_string(backup.pid), std::to_string(backup.backup_id), tenant.value_or(backup.tenant),
		         backup.kind, std::string(started_text), std::to_string(backup.tables_done),
		         std::to_string(backup.tables_total), backup.table.empty() ? std::nullopt : SqlValue(backup.table),
		         std::to_string(backup.rows_done), std::to_string(backup.bytes_done),
		         backup.phase.empty() ? std::nullopt : SqlValue(backup.phase),
		         backup.job_id ? SqlValue(std::to_string(backup.job_id)) : std::nullopt});
	}
	spi_end();
	return 0;
}
