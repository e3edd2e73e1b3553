// tenant_backup.backup_schedule_set(...), backup_schedule_remove(tenant) and backup_schedules():
// managing and listing schedules (backup admins only; changes are audited as "schedule").
#include "core/schedule/civil_time.hpp"
#include "pg/archive/new_archive.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/registry.hpp"
#include "pg/scheduler/schedules.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/srf_rows.hpp"
#include "pg/catalog/tenant_presence.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <algorithm>
#include <cctype>

namespace tb::pg {

namespace {

// An integer argument, nullopt for NULL (left out: the schedule keeps its value).
std::optional<int32> arg_int(FunctionCallInfo fcinfo, int n, const char *name, int32 min, int32 max) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	int32 value = PG_GETARG_INT32(n);
	if (value < min || value > max)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must be between " + std::to_string(min) +
		                                                    " and " + std::to_string(max) + ", not " +
		                                                    std::to_string(value));
	return value;
}

// A text argument that, when given, must not be empty.
std::optional<std::string> arg_nonempty_text(FunctionCallInfo fcinfo, int n, const char *name) {
	return bounded_text_arg(fcinfo, n, name, 256, false);
}

// A schedule's columns, as a new schedule has them (the documented defaults, README
// "backup_schedule_set") until the stored row or the arguments say otherwise.
struct ScheduleValues {
	std::string cron = "0 2 * * *", time_zone = "UTC";
	int32 keep_last = 14, window_minutes = 0;
	bool enabled = true;
	int32 keep_days = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0;
	SqlValue repositories; // NULL: tenant_backup.repositories
};

template <typename T> void take(T &field, const std::optional<T> &given) {
	if (given)
		field = *given;
}

// "Etc/GMT+3" is 3 hours behind UTC: the Etc names keep the POSIX sign. Said, since the name
// reads the other way round.
void notice_etc_sign(const std::string &zone) {
	std::string lower;
	for (char c : zone)
		lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	size_t at = lower.rfind("gmt");
	if (at == std::string::npos || at + 4 > lower.size() || (lower[at + 3] != '+' && lower[at + 3] != '-'))
		return;
	std::string hours = lower.substr(at + 4);
	if (hours.empty() || hours.size() > 2 || !std::all_of(hours.begin(), hours.end(), ::isdigit) ||
	    std::stoi(hours) == 0)
		return;
	std::string message = "time zone " + zone + " is UTC" + (lower[at + 3] == '+' ? "-" : "+") +
	                      (hours.size() == 1 ? "0" : "") + hours + ":00";
	const char *m = message.c_str();
	pg_call([m] {
		ereport(NOTICE, (errmsg("%s", m), errdetail("The Etc/GMT zones keep the POSIX sign: Etc/GMT+3 is 3 hours "
		                                            "behind UTC, Etc/GMT-3 3 hours ahead.")));
	});
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
	AuditedAction audit("schedule"); // first: a refused argument is a failed attempt too
	if (std::optional<std::string> given = bounded_text_arg(fcinfo, 0, "tenant", kMaxTenantBytes, true))
		audit.set_tenant(*given); // as given, until its stored spelling is known
	// Every argument left out (NULL) keeps the schedule's current value; a new schedule takes
	// the defaults of ScheduleValues.
	std::optional<std::string> cron = arg_nonempty_text(fcinfo, 1, "cron");
	std::optional<std::string> zone = arg_nonempty_text(fcinfo, 2, "time_zone");
	constexpr int32 kMaxKeep = 100000;
	std::optional<int32> keep_last = arg_int(fcinfo, 3, "keep_last", 0, kMaxKeep);
	std::optional<int32> window = arg_int(fcinfo, 4, "window_minutes", 0, 1440);
	std::optional<bool> enabled;
	if (!PG_ARGISNULL(5))
		enabled = PG_GETARG_BOOL(5);
	std::optional<int32> keep_days = arg_int(fcinfo, 6, "keep_days", 0, kMaxKeep);
	std::optional<int32> keep_daily = arg_int(fcinfo, 7, "keep_daily", 0, kMaxKeep);
	std::optional<int32> keep_weekly = arg_int(fcinfo, 8, "keep_weekly", 0, kMaxKeep);
	std::optional<int32> keep_monthly = arg_int(fcinfo, 9, "keep_monthly", 0, kMaxKeep);
	if (cron)
		tb::schedule::CronSchedule::parse(*cron); // a clear error naming the field

	spi_begin();
	if (zone)
		time_zone_named(*zone);
	std::optional<std::string> tenant = schedule_tenant(fcinfo, false);
	audit.set_tenant(tenant.value_or(""));
	require_backup_admin("schedule", "change backup schedules");
	// The schedule's own repositories; choosing them is superuser-only. NULL (omitted) keeps those
	// the schedule has, so that a backup admin changing the cron keeps a superuser's choice; ''
	// resets them to tenant_backup.repositories (stored as NULL).
	bool repositories_given = !PG_ARGISNULL(10);
	std::optional<std::string> repositories = arg_text(fcinfo, 10);
	if (repositories) {
		require_superuser("schedule", "choose the repositories of a schedule");
		repositories = repositories->empty() ? std::nullopt : std::optional(checked_repository_list(*repositories));
	}
	// A typo'd tenant: refused where root tables of tenants exist and lack it (else a NOTICE
	// below, once the schedule is set, when it has no rows anywhere).
	std::vector<TenantTable> tables;
	if (tenant) {
		tables = load_tenant_tables();
		require_tenant_in_root_tables(*tenant, tables, "no schedule was set");
	}
	ScheduleValues v;
	{
		AsExtensionOwner owner; // the catalog is the extension's own
		spi_query("LOCK TABLE tenant_backup.schedules IN SHARE ROW EXCLUSIVE MODE");
		auto old = spi_query("DELETE FROM tenant_backup.schedules WHERE tenant IS NOT DISTINCT FROM $1 "
		                     "RETURNING cron, time_zone, keep_last, window_minutes, enabled, keep_days, keep_daily, "
		                     "keep_weekly, keep_monthly, repositories",
		                     {tenant});
		if (!old.empty()) {
			const SqlRow &r = old[0];
			v = {*r[0],
			     *r[1],
			     std::stoi(*r[2]),
			     std::stoi(*r[3]),
			     *r[4] == "t",
			     std::stoi(*r[5]),
			     std::stoi(*r[6]),
			     std::stoi(*r[7]),
			     std::stoi(*r[8]),
			     r[9]};
		}
		take(v.cron, cron);
		take(v.time_zone, zone);
		take(v.keep_last, keep_last);
		take(v.window_minutes, window);
		take(v.enabled, enabled);
		take(v.keep_days, keep_days);
		take(v.keep_daily, keep_daily);
		take(v.keep_weekly, keep_weekly);
		take(v.keep_monthly, keep_monthly);
		if (repositories_given)
			v.repositories = repositories;
		// A kept cron or zone is checked again: one stored before a rule got stricter (a numeric
		// offset's inverted sign) is not carried on silently.
		if (!cron)
			tb::schedule::CronSchedule::parse(v.cron);
		if (!zone)
			time_zone_named(v.time_zone);
		spi_query("INSERT INTO tenant_backup.schedules (tenant, cron, time_zone, keep_last, window_minutes, enabled, "
		          "keep_days, keep_daily, keep_weekly, keep_monthly, repositories) "
		          "VALUES ($1, $2, $3, $4::int, $5::int, $6::bool, $7::int, $8::int, $9::int, $10::int, $11)",
		          {tenant, v.cron, v.time_zone, std::to_string(v.keep_last), std::to_string(v.window_minutes),
		           v.enabled ? "t" : "f", std::to_string(v.keep_days), std::to_string(v.keep_daily),
		           std::to_string(v.keep_weekly), std::to_string(v.keep_monthly), v.repositories});
	}
	if (zone)
		notice_etc_sign(*zone);
	if (tenant && !tenant_has_rows(*tenant, tables))
		notice_tenant_without_rows(*tenant, "the schedule was set, and its backups will be empty until it has some");
	if (v.enabled)
		NewArchive::warn_for_schedule(); // said here, where it helps, not by every scheduled job
	audit.ok(v.cron + " " + v.time_zone + (v.enabled ? "" : " (disabled)"));
	spi_end();
	PG_RETURN_VOID();
}

TB_SQL_FUNCTION(backup_schedule_remove) {
	refuse_on_standby("backup_schedule_remove");
	AuditedAction audit("schedule"); // first: a refused argument is a failed attempt too
	spi_begin();
	std::optional<std::string> tenant = schedule_tenant(fcinfo, true);
	audit.set_tenant(tenant.value_or(""));
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
	for (const auto &problem : schedules.problems)
		warn(problem);
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
