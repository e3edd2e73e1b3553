#include "pg/scheduler/schedules.hpp"

#include "core/error.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/scheduler/pg_time_zone.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/table_trust.hpp"
#include "pg/catalog/tenant_tables.hpp"

extern "C" {
#include "utils/regproc.h"
#include "utils/ruleutils.h"
}

#include <algorithm>
#include <cstring>
#include <set>

namespace tb::pg {

std::string Schedule::key() const {
	return cron_text + "|" + time_zone + "|" + std::to_string(window_minutes) + "|" + (enabled ? "on" : "off");
}

namespace {

// A cron search shifted by the tenant's window offset: runs are cron times plus the offset.
template <typename Search>
std::optional<int64_t> shifted(const Schedule &s, const std::string &tenant, int64_t at, Search search) {
	if (!s.enabled)
		return std::nullopt;
	int64_t offset = schedule::window_offset_seconds(tenant, s.window_minutes);
	std::optional<int64_t> run = search(at - offset);
	return run ? std::optional<int64_t>(*run + offset) : std::nullopt;
}

} // namespace

std::optional<int64_t> Schedule::next_run(const std::string &tenant, int64_t after) const {
	return shifted(*this, tenant, after, [this](int64_t t) { return cron->next_after(t, *zone); });
}

std::optional<int64_t> Schedule::last_run(const std::string &tenant, int64_t at) const {
	return shifted(*this, tenant, at, [this](int64_t t) { return cron->last_at_or_before(t, *zone); });
}

const Schedule *ScheduleSet::for_tenant(const std::string &tenant) const {
	if (invalid_tenants.count(tenant))
		return nullptr;
	auto it = per_tenant.find(tenant);
	if (it != per_tenant.end())
		return &it->second;
	return fallback ? &*fallback : nullptr;
}

namespace {

// Whether the name is one of the time zone database's (as pg_timezone_names lists them, in any
// case), rather than a POSIX TZ specification that PostgreSQL's library parses when no zone file
// has the name. Only names with a digit are asked about (few zone names have one: Etc/GMT-3,
// EST5EDT); the answer is remembered for the backend's life (the scheduler loads its schedules
// again and again).
bool in_time_zone_database(const std::string &name) {
	static std::map<std::string, bool> known;
	auto it = known.find(name);
	if (it != known.end())
		return it->second;
	bool found = !spi_query("SELECT 1 FROM pg_catalog.pg_timezone_names "
	                        "WHERE pg_catalog.lower(name) OPERATOR(pg_catalog.=) pg_catalog.lower($1)",
	                        {name}, true)
	                  .empty();
	known.emplace(name, found);
	return found;
}

// "+03:00" -> "Etc/GMT-3": the zone of a whole-hour ISO offset ([+-]HH, [+-]HH:MM, [+-]HHMM),
// or "" when the text is not one.
std::string etc_zone_of_iso_offset(const std::string &text) {
	std::string digits;
	for (size_t i = 1; i < text.size(); i++)
		if (text[i] != ':' || i != 3)
			digits += text[i];
	bool iso = text.size() >= 3 && (text[0] == '+' || text[0] == '-') && (digits.size() == 2 || digits.size() == 4) &&
	           std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
	if (!iso || (digits.size() == 4 && digits.substr(2) != "00"))
		return "";
	int hours = std::stoi(digits.substr(0, 2));
	if (hours == 0)
		return "Etc/UTC";
	if ((text[0] == '+' && hours > 14) || (text[0] == '-' && hours > 12))
		return "";
	return std::string("Etc/GMT") + (text[0] == '+' ? "-" : "+") + std::to_string(hours);
}

} // namespace

std::shared_ptr<const schedule::TimeZone> time_zone_named(const std::string &name) {
	const char *n = name.c_str();
	pg_tz *tz = pg_eval([n] { return pg_tzset(n); });
	// A numeric offset ('+03:00', 'UTC+3') is a POSIX TZ specification, whose sign is the
	// opposite of ISO 8601's: '+03:00' would run 3 hours behind UTC. Refused, never inverted.
	bool has_digit = std::any_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
	bool numeric = has_digit && (tz ? !in_time_zone_database(name) : std::strchr("+-0123456789", name[0]) != nullptr);
	if (!tz && !numeric)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "time zone \"" + name + "\" not recognized", "",
		               "Use an IANA time zone name such as Europe/Berlin or Africa/Nairobi.");
	if (numeric) {
		std::string etc = etc_zone_of_iso_offset(name);
		throw SqlError(
		    ERRCODE_INVALID_PARAMETER_VALUE,
		    "time zone \"" + name + "\" is a numeric UTC offset (POSIX TZ syntax), which is not accepted",
		    "PostgreSQL's time zone library reads such offsets as POSIX TZ specifications, whose sign "
		    "is the opposite of ISO 8601's: \"+03:00\" would mean 3 hours behind UTC.",
		    "Use an IANA time zone name such as Africa/Nairobi (it also follows daylight saving "
		    "time)" +
		        (etc.empty() ? std::string(".") : ", or \"" + etc + "\" for a fixed offset of " + name + " from UTC."));
	}
	return std::make_shared<PgTimeZone>(tz);
}

ScheduleSet load_schedules(const std::optional<std::string> &only_tenant) {
	ScheduleSet set;
	// One tenant's: its own row and the default, not every tenant's (a job per tenant would
	// otherwise read every schedule row: O(tenants) each, O(tenants^2) a night).
	static const char *const all = "SELECT tenant, cron, time_zone, keep_last, keep_days, keep_daily, keep_weekly, "
	                               "keep_monthly, window_minutes, enabled FROM tenant_backup.schedules";
	static const char *const one = "SELECT tenant, cron, time_zone, keep_last, keep_days, keep_daily, keep_weekly, "
	                               "keep_monthly, window_minutes, enabled FROM tenant_backup.schedules "
	                               "WHERE tenant IS NULL OR tenant OPERATOR(pg_catalog.=) $1";
	auto rows = only_tenant ? spi_query(one, {only_tenant}, true) : spi_query(all, {}, true);
	for (const auto &row : rows) {
		Schedule s;
		s.tenant = row[0];
		s.cron_text = *row[1];
		s.time_zone = *row[2];
		s.retention.keep_last = std::stoi(*row[3]);
		s.retention.keep_days = std::stoi(*row[4]);
		s.retention.keep_daily = std::stoi(*row[5]);
		s.retention.keep_weekly = std::stoi(*row[6]);
		s.retention.keep_monthly = std::stoi(*row[7]);
		s.window_minutes = std::stoi(*row[8]);
		s.enabled = *row[9] == "t";
		try {
			s.cron = std::make_shared<schedule::CronSchedule>(schedule::CronSchedule::parse(s.cron_text));
			s.zone = time_zone_named(s.time_zone);
		} catch (const PgError &) {
			throw;                          // the transaction is failing: nothing to skip
		} catch (const std::exception &e) { // tb::Error, SqlError: stored before a parser got stricter
			std::string whose = s.tenant ? "schedule of tenant \"" + *s.tenant + "\"" : "default schedule";
			set.problems.push_back("tenant_backup: the " + whose + " is not used: " + e.what());
			if (s.tenant)
				set.invalid_tenants.insert(*s.tenant);
			continue;
		}
		if (s.tenant)
			set.per_tenant.emplace(*s.tenant, std::move(s));
		else
			set.fallback = std::move(s);
	}
	return set;
}

namespace {

// The registry table's tenant column, quoted, as "SELECT DISTINCT column::text FROM table". The
// names are resolved here, not by SQL that a function found on a search path writes: an unqualified
// registry name means public.<name>, whatever anyone's search_path. Only the supported tenant types
// are read, so only built-in output functions run (a cast to text of a type another role created
// would run that role's function as the scheduler's superuser).
std::string registry_query(const char *registry, const char *column) {
	struct {
		Oid relid;
		Oid type;
		Oid owner;
		char relkind;
		char *qualified;
	} raw{};
	pg_call([&] {
		List *names = stringToQualifiedNameList(registry);
		RangeVar *rv = makeRangeVarFromNameList(names);
		if (!rv->schemaname)
			rv->schemaname = pstrdup("public");
		raw.relid = RangeVarGetRelid(rv, AccessShareLock, false);
		AttrNumber attnum = get_attnum(raw.relid, column);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
			                errmsg("tenant registry %s has no column \"%s\"", get_rel_name(raw.relid), column)));
		raw.type = get_atttype(raw.relid, attnum);
		raw.relkind = get_rel_relkind(raw.relid);
		raw.owner = relation_owner(raw.relid);
		raw.qualified = quote_qualified_identifier(rv->schemaname, rv->relname);
	});
	std::string table = raw.qualified;
	// Read as the scheduler's superuser: a view would run its owner's functions, and a table of
	// an owner nobody vouched for could list anything (or be planted as public.<name>).
	if (raw.relkind != RELKIND_RELATION && raw.relkind != RELKIND_PARTITIONED_TABLE)
		throw SqlError(ERRCODE_WRONG_OBJECT_TYPE, "tenant registry " + table + " is not a table",
		               "tenant_backup.tenant_registry must name an ordinary or partitioned table.");
	if (!trusted_table_owner(raw.owner))
		throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE,
		               "tenant registry " + table + " is owned by a role that is not trusted",
		               "Its owner must be a superuser, the database owner, the extension owner or a role of "
		               "tenant_backup.table_owners.");
	check_tenant_type(raw.type, column, table);
	return "SELECT DISTINCT " + quoted_ident(column) + "::pg_catalog.text FROM " + table;
}

// Once per process and table: discovery reads a table without an index leading with its tenant
// column whole, every time (every ten minutes in the scheduler).
void warn_no_tenant_index(const std::string &table, const std::string &column) {
	static std::set<std::string> warned;
	if (!warned.insert(table).second)
		return;
	std::string message = "tenant_backup: finding the tenants reads table " + table +
	                      " whole: no index leads with its tenant column " + column;
	std::string hint = "Create one: CREATE INDEX ON " + table + " (" + column + ");";
	const char *m = message.c_str(), *h = hint.c_str();
	pg_call([m, h] { ereport(WARNING, (errmsg("%s", m), errhint("%s", h))); });
}

std::string type_name(Oid type) {
	return pg_eval([type] { return static_cast<const char *>(format_type_be(type)); });
}

} // namespace

// The sources: the registry, or every tenant table that is not a path table (its tenants are
// those of the tables its path leads to). Only tenant tables (trusted owners, supported types:
// backup_table_gaps() lists the others).
void TenantDiscovery::plan() {
	planned = true;
	const char *registry = setting_tenant_registry();
	const char *column = setting_tenant_column();
	if (registry && registry[0]) {
		// In the form backups record tenants: '01' in a text registry is tenant 1 of int columns.
		sources.push_back({registry_query(registry, column), "", true, true});
		return;
	}
	for (const auto &t : load_tenant_tables()) {
		if (t.is_path())
			continue;
		std::string col = quoted_ident(t.tenant_column), table = quoted_name(t.schema, t.name);
		if (!t.has_index) {
			warn_no_tenant_index(table, col);
			sources.push_back({"SELECT DISTINCT " + col + "::pg_catalog.text FROM " + table, "", true, false});
			continue;
		}
		// With an index leading with the tenant column, a loose index scan costs one index probe
		// per tenant instead of a pass over every row; it stops after $1 tenants, and the next
		// step goes on after the last one ($2).
		auto loose = [&](const std::string &first) {
			return "SELECT v::pg_catalog.text FROM (WITH RECURSIVE skip(v, n) AS ((SELECT " + col + ", 1 FROM " +
			       table + " WHERE " + first + " ORDER BY 1 LIMIT 1) UNION ALL SELECT (SELECT " + col + " FROM " +
			       table + " WHERE " + col + " OPERATOR(pg_catalog.>) skip.v ORDER BY 1 LIMIT 1), skip.n + 1 " +
			       "FROM skip WHERE skip.v IS NOT NULL AND skip.n < $1::int) SELECT v, n FROM skip " +
			       "WHERE v IS NOT NULL) AS loose ORDER BY n";
		};
		sources.push_back({loose(col + " IS NOT NULL"),
		                   loose(col + " OPERATOR(pg_catalog.>) CAST($2 AS " + type_name(t.tenant_type) + ")"), false,
		                   false});
	}
}

bool TenantDiscovery::step() {
	if (!planned) {
		plan();
		for (auto &t : own_schedule_tenants(schedules_))
			found.insert(std::move(t));
	}
	if (current >= sources.size())
		return false;
	Source &source = sources[current];
	if (source.whole) {
		std::vector<std::string> values;
		for (const auto &row : spi_query(source.first_sql.c_str(), {}, true))
			if (row[0])
				values.push_back(*row[0]);
		for (auto &t : source.registry ? stored_tenants(values) : values)
			found.insert(std::move(t));
		current++;
		return current < sources.size();
	}
	std::string limit = std::to_string(kStep);
	auto rows = source.cursor ? spi_query(source.next_sql.c_str(), {limit, source.cursor}, true)
	                          : spi_query(source.first_sql.c_str(), {limit}, true);
	for (const auto &row : rows)
		found.insert(*row[0]);
	if (rows.size() < static_cast<size_t>(kStep))
		current++;
	else
		source.cursor = rows.back()[0];
	return current < sources.size();
}

std::vector<std::string> TenantDiscovery::tenants() const {
	return {found.begin(), found.end()};
}

std::vector<std::string> own_schedule_tenants(const ScheduleSet &schedules) {
	std::set<std::string> tenants(schedules.invalid_tenants.begin(), schedules.invalid_tenants.end());
	for (const auto &entry : schedules.per_tenant)
		tenants.insert(entry.first);
	return {tenants.begin(), tenants.end()};
}

std::vector<std::string> scheduled_tenants(const ScheduleSet &schedules) {
	TenantDiscovery discovery(schedules);
	while (discovery.step()) {
	}
	return discovery.tenants();
}

int64_t scheduler_now() {
	TimestampTz now = pg_eval([] { return GetCurrentTimestamp(); });
	return static_cast<int64_t>(timestamptz_to_time_t(now)) + setting_clock_offset();
}

} // namespace tb::pg
