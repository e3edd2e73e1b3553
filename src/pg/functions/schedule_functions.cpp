// tenant_backup.backup_schedule_set(...), backup_schedule_remove(tenant) and backup_schedules():
// managing and listing schedules (backup admins only; changes are audited as "schedule").
#include "core/schedule/civil_time.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/registry.hpp"
#include "pg/scheduler/schedules.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/srf_rows.hpp"
#include "pg/catalog/tenant_tables.hpp"

namespace tb::pg {

namespace {

int32 arg_int(FunctionCallInfo fcinfo, int n, const char *name, int32 min, int32 max) {
	if (PG_ARGISNULL(n))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(name) + " must not be NULL");
	int32 value = PG_GETARG_INT32(n);
	if (value < min || value > max)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must be between " + std::to_string(min) +
		                                                    " and " + std::to_string(max) + ", not " +
		                                                    std::to_string(value));
	return value;
}

// The tenant argument as the catalog stores tenants, or nullopt for the default schedule. A new
// schedule takes only the canonical spelling; removing one also finds a row 0.1.0 stored under a
// spelling that is refused now.
std::optional<std::string> schedule_tenant(FunctionCallInfo fcinfo, bool existing) {
	std::optional<std::string> tenant = arg_text(fcinfo, 0);
	if (!tenant)
		return std::nullopt;
	check_text_arg(*tenant, "tenant", kMaxTenantBytes, false);
	return existing ? lookup_tenant(*tenant) : stored_tenant(*tenant);
}

SqlValue utc_text(std::optional<int64_t> t) {
	if (!t)
		return std::nullopt;
	int64_t days = schedule::floor_div(*t, 86400);
	int64_t secs = *t - days * 86400;
	schedule::CivilDate d = schedule::civil_from_days(days);
	char buf[48];
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d+00", d.year, d.month, d.day, int(secs / 3600),
	         int(secs / 60 % 60), int(secs % 60));
	return std::string(buf);
}

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_schedule_set) {
	refuse_on_standby("backup_schedule_set");
	std::string cron = required_text_arg(fcinfo, 1, "cron", 256);
	std::string zone = required_text_arg(fcinfo, 2, "time_zone", 256);
	constexpr int32 kMaxKeep = 100000;
	int32 keep_last = arg_int(fcinfo, 3, "keep_last", 0, kMaxKeep);
	int32 window = arg_int(fcinfo, 4, "window_minutes", 0, 1440);
	if (PG_ARGISNULL(5))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "enabled must not be NULL");
	bool enabled = PG_GETARG_BOOL(5);
	int32 keep_days = arg_int(fcinfo, 6, "keep_days", 0, kMaxKeep);
	int32 keep_daily = arg_int(fcinfo, 7, "keep_daily", 0, kMaxKeep);
	int32 keep_weekly = arg_int(fcinfo, 8, "keep_weekly", 0, kMaxKeep);
	int32 keep_monthly = arg_int(fcinfo, 9, "keep_monthly", 0, kMaxKeep);
	tb::schedule::CronSchedule::parse(cron); // a clear error naming the field
	time_zone_named(zone);

	spi_begin();
	std::optional<std::string> tenant = schedule_tenant(fcinfo, false);
	AuditedAction audit("schedule", tenant.value_or(""));
	require_backup_admin("schedule", "change backup schedules");
	// The schedule's own repositories; choosing them is superuser-only. NULL (omitted) keeps those
	// the schedule has, so that a backup admin changing the cron keeps a superuser's choice; ''
	// resets them to tenant_backup.repositories (stored as NULL).
	std::optional<std::string> repositories = arg_text(fcinfo, 10);
	bool keep_repositories = !repositories;
	if (repositories) {
		require_superuser("schedule", "choose the repositories of a schedule");
		repositories = repositories->empty() ? std::nullopt : std::optional(checked_repository_list(*repositories));
	}
	{
		AsExtensionOwner owner; // the catalog is the extension's own
		spi_query("LOCK TABLE tenant_backup.schedules IN SHARE ROW EXCLUSIVE MODE");
		auto old =
		    spi_query("DELETE FROM tenant_backup.schedules WHERE tenant IS NOT DISTINCT FROM $1 RETURNING repositories",
		              {tenant});
		if (keep_repositories && !old.empty())
			repositories = old[0][0];
		spi_query("INSERT INTO tenant_backup.schedules (tenant, cron, time_zone, keep_last, window_minutes, enabled, "
		          "keep_days, keep_daily, keep_weekly, keep_monthly, repositories) "
		          "VALUES ($1, $2, $3, $4::int, $5::int, $6::bool, $7::int, $8::int, $9::int, $10::int, $11)",
		          {tenant, cron, zone, std::to_string(keep_last), std::to_string(window), enabled ? "t" : "f",
		           std::to_string(keep_days), std::to_string(keep_daily), std::to_string(keep_weekly),
		           std::to_string(keep_monthly), repositories});
	}
	audit.ok(cron + " " + zone + (enabled ? "" : " (disabled)"));
	spi_end();
	PG_RETURN_VOID();
}

TB_SQL_FUNCTION(backup_schedule_remove) {
	refuse_on_standby("backup_schedule_remove");
	spi_begin();
	std::optional<std::string> tenant = schedule_tenant(fcinfo, true);
	AuditedAction audit("schedule", tenant.value_or(""));
	require_backup_admin("schedule", "change backup schedules");
	bool removed;
	{
		AsExtensionOwner owner;
		removed =
		    !spi_query("DELETE FROM tenant_backup.schedules WHERE tenant IS NOT DISTINCT FROM $1 RETURNING 1", {tenant})
		         .empty();
	}
	audit.ok(removed ? "removed" : "no such schedule");
	spi_end();
	PG_RETURN_BOOL(removed);
}

// One row per tenant: its schedule in force, the next run (as the scheduler has it, or as it will
// compute it), and the last run that should have finished by now (for backup_status's overdue).
TB_SQL_FUNCTION(backup_schedules) {
	SrfRows out(fcinfo);
	spi_begin();
	// Admins are superusers or the extension's owner: they read the catalog and tenant tables as themselves.
	require_backup_admin("list_schedules", "list backup schedules");
	ScheduleSet schedules = load_schedules();
	for (const auto &problem : schedules.problems) {
		const char *p = problem.c_str();
		pg_call([p] { ereport(WARNING, (errmsg("%s", p))); });
	}
	std::vector<std::string> tenants = scheduled_tenants(schedules);
	std::map<std::string, std::pair<std::string, int64_t>> state; // tenant -> key, next run
	for (const auto &row : spi_query("SELECT tenant, schedule_key, extract(epoch FROM next_run)::bigint "
	                                 "FROM tenant_backup.schedule_state WHERE next_run IS NOT NULL",
	                                 {}, true))
		state[*row[0]] = {row[1].value_or(""), std::stoll(*row[2])};
	int64_t now = scheduler_now();
	int64_t overdue_at = now - int64_t(setting_overdue_after()) * 60;
	for (const auto &tenant : tenants) {
		const Schedule *s = schedules.for_tenant(tenant);
		if (!s) {
			out.add({tenant, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
			         std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
			continue;
		}
		std::optional<int64_t> next;
		auto known = state.find(tenant);
		if (s->enabled)
			next = known != state.end() && known->second.first == s->key() ? known->second.second
			                                                               : s->next_run(tenant, now);
		const auto &r = s->retention;
		out.add({tenant, std::string(s->tenant ? "tenant" : "default"), s->cron_text, s->time_zone,
		         std::to_string(r.keep_last), std::to_string(r.keep_days), std::to_string(r.keep_daily),
		         std::to_string(r.keep_weekly), std::to_string(r.keep_monthly), std::to_string(s->window_minutes),
		         std::string(s->enabled ? "t" : "f"), utc_text(next), utc_text(s->last_run(tenant, overdue_at))});
	}
	spi_end();
	return 0;
}

// tenant_backup._scheduler_clock_offset(): the test clock's offset in seconds, for backup_status
// (a backup's created_at is compared with scheduled times on the scheduler's clock).
TB_SQL_FUNCTION(tenant_backup_scheduler_clock_offset) {
	PG_RETURN_INT32(setting_clock_offset());
}
