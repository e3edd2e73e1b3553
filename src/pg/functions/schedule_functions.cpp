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
#include "pg/shared_memory/scheduler_registry.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
#include "commands/dbcommands.h"
#include "utils/syscache.h"
#include "funcapi.h"
#include "utils/timestamp.h"
}

#include <algorithm>
#include <map>
#include <memory>

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

// A schedule's columns, as a new schedule has them (the documented defaults, docs/SCHEDULES.md,
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

// Whether a scheduler serves this database now (needs tenant_backup in shared_preload_libraries).
bool scheduler_serves_this_database();
void warn_if_unserved();

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
	pg_call([] { wake_scheduler_at_commit(); });
	warn_if_unserved();
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
	pg_call([] { wake_scheduler_at_commit(); });
	audit.ok(removed ? "removed" : "no such schedule");
	spi_end();
	PG_RETURN_BOOL(removed);
}

namespace tb::pg {

namespace {

using StoredRun = std::optional<std::pair<std::string, int64_t>>; // schedule_state: key, next run

// backup_schedules()'s row of a tenant: its schedule in force, the next run (as the scheduler has
// it, or as it will compute it), and the last run that should have finished by now (for
// backup_status's overdue).
SqlRow schedule_row(const ScheduleSet &schedules, const std::string &tenant, const StoredRun &stored, int64_t now,
                    int64_t overdue_at) {
	const Schedule *s = schedules.for_tenant(tenant);
	if (!s)
		return {tenant,       std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
		        std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
	std::optional<int64_t> next;
	if (s->enabled)
		next = stored && stored->first == s->key() ? stored->second : s->next_run(tenant, now);
	const auto &r = s->retention;
	return {tenant,
	        std::string(s->tenant ? "tenant" : "default"),
	        s->cron_text,
	        s->time_zone,
	        std::to_string(r.keep_last),
	        std::to_string(r.keep_days),
	        std::to_string(r.keep_daily),
	        std::to_string(r.keep_weekly),
	        std::to_string(r.keep_monthly),
	        std::to_string(s->window_minutes),
	        std::string(s->enabled ? "t" : "f"),
	        utc_text(next),
	        utc_text(s->last_run(tenant, overdue_at))};
}

// What one query's rows share: the schedules, read once (backup_status calls _schedule_times once
// per tenant), and the clock. Lives as long as the function's memory context.
struct QuerySchedules {
	ScheduleSet schedules;
	int64_t now = 0, overdue_at = 0;
	// For _schedule_times, which runs once per tenant: its result type (blessed, in the function's
	// memory context), each schedule's key, and the run times computed so far. A tenant's run
	// times depend on it only through its window offset, so tenants of one schedule and offset
	// share them (with window_minutes 0, every tenant of the schedule).
	TupleDesc result = nullptr;
	std::map<const Schedule *, std::string> keys;
	std::map<std::pair<const Schedule *, int64_t>, std::optional<int64_t>> next_runs, last_runs;
};

void load_query_schedules(QuerySchedules &q, const std::optional<std::string> &only_tenant) {
	q.schedules = load_schedules(only_tenant);
	for (const auto &problem : q.schedules.problems) {
		const char *p = problem.c_str();
		pg_call([p] { ereport(WARNING, (errmsg("%s", p))); });
	}
	q.now = scheduler_now();
	q.overdue_at = q.now - int64_t(setting_overdue_after()) * 60;
}

void free_query_schedules(void *arg) {
	delete static_cast<QuerySchedules *>(arg);
}

// The QuerySchedules of this call site, read (after the admin check) at its first call.
QuerySchedules &query_schedules(FunctionCallInfo fcinfo) {
	if (fcinfo->flinfo->fn_extra)
		return *static_cast<QuerySchedules *>(fcinfo->flinfo->fn_extra);
	auto q = std::make_unique<QuerySchedules>();
	spi_begin();
	// backup_status filters the rows (_status_visible); the schedules are the extension's own
	if (require_status_reader("list_schedules") == StatusReader::All) {
		load_query_schedules(*q, std::nullopt);
	} else {
		AsExtensionOwner owner;
		load_query_schedules(*q, std::nullopt);
	}
	spi_end();
	QuerySchedules *raw = q.get();
	pg_call([&] {
		auto *callback = static_cast<MemoryContextCallback *>(
		    MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback)));
		callback->func = free_query_schedules;
		callback->arg = raw;
		MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, callback);
	});
	q.release();
	fcinfo->flinfo->fn_extra = raw;
	return *raw;
}

StoredRun stored_run_arg(FunctionCallInfo fcinfo, int key_arg, int next_arg) {
	if (PG_ARGISNULL(next_arg))
		return std::nullopt;
	std::optional<std::string> key = arg_text(fcinfo, key_arg);
	TimestampTz next = PG_GETARG_TIMESTAMPTZ(next_arg);
	return std::make_pair(key.value_or(""),
	                      static_cast<int64_t>(pg_eval([next] { return timestamptz_to_time_t(next); })));
}

} // namespace

bool scheduler_serves_this_database() {
	std::vector<ServedDatabase> served = served_databases();
	if (served.empty())
		return false;
	std::string name = pg_eval([] { return static_cast<const char *>(get_database_name(MyDatabaseId)); });
	for (const auto &d : served)
		if (d.database == name)
			return true;
	return false;
}

// Whether the launcher will serve this database: it runs, and tenant_backup.databases is '*' or
// names the database. (A template database, or one that takes no connections, is never served.)
bool launcher_will_serve(const std::string &database) {
	if (!launcher_running())
		return false;
	bool connectable = pg_eval([] {
		HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
		bool ok = false;
		if (HeapTupleIsValid(tuple)) {
			Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
			ok = db->datallowconn && !db->datistemplate;
			ReleaseSysCache(tuple);
		}
		return ok;
	});
	if (!connectable)
		return false;
	if (setting_all_databases())
		return true;
	bool valid = true;
	std::vector<std::string> names = setting_database_names(valid);
	return std::find(names.begin(), names.end(), database) != names.end();
}

// Whether the extension was created by the current transaction (its scheduler can start only
// once it commits).
bool extension_created_now() {
	return extension_row().created_now;
}

// backup_schedule_set's WARNING when the schedule will not run: no scheduler serves the database,
// and none is about to. Where the launcher should serve it and the extension is committed, the
// launcher is asked at once and given a few seconds (right after CREATE EXTENSION it is still
// starting the scheduler); a scheduler that does not come (no free worker slot) is warned about.
void warn_if_unserved() {
	if (scheduler_serves_this_database())
		return;
	std::string database = pg_eval([] { return static_cast<const char *>(get_database_name(MyDatabaseId)); });
	pg_call([] { wake_launcher_at_commit(); });
	const char *setting = setting_databases();
	std::string message = "no tenant_backup scheduler serves database \"" + database +
	                      "\": its schedules are stored, but no scheduled backup runs";
	std::string hint;
	if (launcher_will_serve(database)) {
		if (extension_created_now())
			return; // its scheduler starts once this transaction commits
		pg_call([] { wake_launcher_now(); });
		constexpr int kWaits = 50; // 5 s
		for (int i = 0; i < kWaits; i++) {
			pg_call([] {
				CHECK_FOR_INTERRUPTS();
				pg_usleep(100000L);
			});
			if (scheduler_serves_this_database())
				return;
		}
		message = "no tenant_backup scheduler serves database \"" + database +
		          "\" yet: the launcher did not start one within 5 seconds; its schedules are stored, but no "
		          "scheduled backup runs until one does";
		hint = "See the server log: every max_worker_processes slot may be in use (raise it), or more than 64 "
		       "databases are served.";
	} else if (!launcher_running()) {
		hint = "Put tenant_backup in shared_preload_libraries and restart the server: its scheduler then serves every "
		       "database where the extension is created (tenant_backup.databases, now \"" +
		       std::string(setting ? setting : "") + "\").";
	} else {
		hint = "Add the database to tenant_backup.databases (now \"" + std::string(setting ? setting : "") +
		       "\"), or set it to '*' (every database where the extension is created), then reload.";
	}
	const char *m = message.c_str(), *h = hint.c_str();
	pg_call([m, h] { ereport(WARNING, (errmsg("%s", m), errhint("%s", h))); });
}

} // namespace tb::pg

// _wake_launcher(): CREATE EXTENSION's last statement. The launcher looks for the extension in
// this database once the transaction commits, and starts its scheduler then (with '*').
TB_SQL_FUNCTION(tenant_backup_wake_launcher) {
	pg_call([] { wake_launcher_at_commit(); });
	PG_RETURN_VOID();
}

TB_SQL_FUNCTION(backup_schedules) {
	SrfRows out(fcinfo);
	spi_begin();
	// Admins are superusers or the extension's owner: they read the catalog and tenant tables as
	// themselves. Members of pg_monitor and holders of backup.view read them as the extension's
	// owner (tenant values and schedules only, never a row's contents), the latter their tenants'.
	StatusReader reader = require_status_reader("list_schedules");
	Oid role = pg_eval([] { return GetUserId(); });
	std::optional<AsExtensionOwner> as_owner;
	if (reader != StatusReader::All)
		as_owner.emplace();
	QuerySchedules q;
	load_query_schedules(q, std::nullopt);
	std::vector<std::string> tenants = scheduled_tenants(q.schedules);
	std::map<std::string, std::pair<std::string, int64_t>> state; // tenant -> key, next run
	for (const auto &row : spi_query("SELECT tenant, schedule_key, extract(epoch FROM next_run)::bigint "
	                                 "FROM tenant_backup.schedule_state WHERE next_run IS NOT NULL",
	                                 {}, true))
		state[*row[0]] = {row[1].value_or(""), std::stoll(*row[2])};
	as_owner.reset();
	if (reader == StatusReader::Viewer)
		tenants.erase(std::remove_if(tenants.begin(), tenants.end(),
		                             [&](const std::string &t) { return !status_visible(reader, role, t); }),
		              tenants.end());
	for (const auto &tenant : tenants) {
		auto known = state.find(tenant);
		out.add(schedule_row(q.schedules, tenant, known == state.end() ? StoredRun() : StoredRun(known->second), q.now,
		                     q.overdue_at));
	}
	spi_end();
	return 0;
}

// backup_schedules(tenant): the row of one tenant, at the cost of one tenant: its state row and
// schedules, not discovery (unless no scheduler serves the database, when the tenants are what
// discovery finds). No row for a tenant nothing knows.
TB_SQL_FUNCTION(backup_schedules_of_tenant) {
	SrfRows out(fcinfo);
	std::optional<std::string> arg = arg_text(fcinfo, 0);
	if (!arg)
		return 0;
	check_text_arg(*arg, "tenant", kMaxTenantBytes, false);
	spi_begin();
	StatusReader reader = require_status_reader("list_schedules");
	Oid role = pg_eval([] { return GetUserId(); });
	std::string tenant = lookup_tenant(*arg);
	if (!status_visible(reader, role, tenant)) {
		spi_end();
		return 0;
	}
	std::optional<AsExtensionOwner> as_owner;
	if (reader != StatusReader::All)
		as_owner.emplace();
	QuerySchedules q;
	load_query_schedules(q, tenant);
	auto state = spi_query("SELECT coalesce(schedule_key, ''), extract(epoch FROM next_run)::bigint "
	                       "FROM tenant_backup.schedule_state WHERE tenant = $1",
	                       {tenant}, true);
	bool known = !state.empty() || q.schedules.per_tenant.count(tenant) || q.schedules.invalid_tenants.count(tenant);
	if (!known && !scheduler_serves_this_database()) {
		std::vector<std::string> tenants = scheduled_tenants(q.schedules);
		known = std::binary_search(tenants.begin(), tenants.end(), tenant);
	}
	if (known)
		out.add(schedule_row(q.schedules, tenant,
		                     state.empty() || !state[0][1] ? StoredRun()
		                                                   : StoredRun({*state[0][0], std::stoll(*state[0][1])}),
		                     q.now, q.overdue_at));
	spi_end();
	return 0;
}

// _schedule_times(tenant, schedule_key, next_run): backup_status's schedule columns of one tenant
// (schedule, enabled, next_run, last_due_run), from its schedule_state row's key and next run;
// the schedules are read once per query.
TB_SQL_FUNCTION(tenant_backup_schedule_times) {
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	std::string tenant = *arg_text(fcinfo, 0);
	QuerySchedules &q = query_schedules(fcinfo);
	if (!q.result)
		q.result = pg_eval([fcinfo] {
			TupleDesc desc;
			if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
				elog(ERROR, "tenant_backup: a composite result type is expected");
			MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
			TupleDesc kept = BlessTupleDesc(CreateTupleDescCopy(desc));
			MemoryContextSwitchTo(old);
			return kept;
		});
	// As schedule_row computes them (backup_schedules()'s schedule, enabled, next_run and
	// last_due_run), without the columns backup_status does not show.
	const Schedule *s = q.schedules.for_tenant(tenant);
	std::optional<int64_t> next, last;
	if (s) {
		int64_t offset = tb::schedule::window_offset_seconds(tenant, s->window_minutes);
		auto memo = [&](auto &cache, auto compute) {
			auto it = cache.find({s, offset});
			if (it == cache.end())
				it = cache.emplace(std::make_pair(s, offset), compute()).first;
			return it->second;
		};
		if (s->enabled) {
			auto key = q.keys.find(s);
			if (key == q.keys.end())
				key = q.keys.emplace(s, s->key()).first;
			StoredRun stored = stored_run_arg(fcinfo, 1, 2);
			next = stored && stored->first == key->second
			           ? std::optional<int64_t>(stored->second)
			           : memo(q.next_runs, [&] { return s->next_run(tenant, q.now); });
		}
		last = memo(q.last_runs, [&] { return s->last_run(tenant, q.overdue_at); });
	}
	const char *kind = s ? (s->tenant ? "tenant" : "default") : nullptr;
	bool enabled = s && s->enabled;
	TupleDesc desc = q.result;
	return pg_eval([&] {
		Datum values[4];
		bool nulls[4] = {kind == nullptr, s == nullptr, !next, !last};
		values[0] = kind ? CStringGetTextDatum(kind) : 0;
		values[1] = BoolGetDatum(enabled);
		values[2] = next ? TimestampTzGetDatum(time_t_to_timestamptz(static_cast<pg_time_t>(*next))) : 0;
		values[3] = last ? TimestampTzGetDatum(time_t_to_timestamptz(static_cast<pg_time_t>(*last))) : 0;
		return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	});
}

// _status_reader(): backup_status's one-time check that the caller may read it at all (an error
// naming what it lacks, even when no tenant has a row).
TB_SQL_FUNCTION(tenant_backup_status_reader) {
	spi_begin();
	require_status_reader("list_schedules");
	spi_end();
	PG_RETURN_BOOL(true);
}

// _status_visible(tenant): whether the caller sees the tenant's row of backup_status (see
// require_status_reader); who the caller is is found once per query.
TB_SQL_FUNCTION(tenant_backup_status_visible) {
	auto *reader = static_cast<StatusReader *>(fcinfo->flinfo->fn_extra);
	if (reader && *reader != StatusReader::Viewer)
		PG_RETURN_BOOL(true); // every row (as status_visible says), without a connection per row
	std::string tenant = *arg_text(fcinfo, 0);
	spi_begin();
	if (!reader) {
		StatusReader found = require_status_reader("list_schedules");
		reader = static_cast<StatusReader *>(
		    pg_eval([&] { return MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(StatusReader)); }));
		*reader = found;
		fcinfo->flinfo->fn_extra = reader;
	}
	Oid role = pg_eval([] { return GetUserId(); });
	bool visible = status_visible(*reader, role, tenant);
	spi_end();
	PG_RETURN_BOOL(visible);
}

// _scheduler_serves(): whether a scheduler serves this database now.
TB_SQL_FUNCTION(tenant_backup_scheduler_serves) {
	PG_RETURN_BOOL(scheduler_serves_this_database());
}

// tenant_backup._scheduler_clock_offset(): the test clock's offset in seconds, for backup_status
// (a backup's created_at is compared with scheduled times on the scheduler's clock).
TB_SQL_FUNCTION(tenant_backup_scheduler_clock_offset) {
	PG_RETURN_INT32(setting_clock_offset());
}
