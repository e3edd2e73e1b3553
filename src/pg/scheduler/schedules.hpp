// Schedules as stored in tenant_backup.schedules (a default row with tenant NULL, and per-tenant
// rows that override it), the tenants they apply to, and their run times by the scheduler's clock.
// Times are seconds since the epoch. Needs SPI connected.
#pragma once
#include "core/schedule/cron.hpp"
#include "core/schedule/retention.hpp"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tb::pg {

struct Schedule {
	std::optional<std::string> tenant; // nullopt: the default for every tenant
	std::string cron_text, time_zone;
	schedule::RetentionPolicy retention;
	int window_minutes = 0;
	bool enabled = true;
	std::shared_ptr<const schedule::CronSchedule> cron;
	std::shared_ptr<const schedule::TimeZone> zone;

	// What the run times depend on: a stored next run made under another key is recomputed.
	std::string key() const;
	// The tenant's first run after `after` (its window offset included), if enabled.
	std::optional<int64_t> next_run(const std::string &tenant, int64_t after) const;
	// The tenant's last run at or before `at`, if enabled.
	std::optional<int64_t> last_run(const std::string &tenant, int64_t at) const;
};

struct ScheduleSet {
	std::optional<Schedule> fallback;
	std::map<std::string, Schedule> per_tenant;
	// Tenants whose own row no longer parses (a cron or time zone refused since it was stored):
	// no schedule is in force for them until it is set again, never the default's retention.
	// A default row that no longer parses leaves `fallback` empty.
	std::set<std::string> invalid_tenants;
	std::vector<std::string> problems; // one message per row skipped
	// The schedule in force for a tenant, or nullptr.
	const Schedule *for_tenant(const std::string &tenant) const;
};

// Every row of tenant_backup.schedules, or only the default and `only_tenant`'s own row; a row
// that does not parse is skipped (see ScheduleSet).
ScheduleSet load_schedules(const std::optional<std::string> &only_tenant = std::nullopt);

// A time zone by name, through PostgreSQL's time zone library (IANA names such as
// Africa/Nairobi, and what the timezone setting accepts); a clear error for an unknown name.
std::shared_ptr<const schedule::TimeZone> time_zone_named(const std::string &name);

// The tenants: the values of tenant_backup.tenant_registry's tenant column if a registry is
// set, otherwise every distinct value of the tenant tables; plus tenants with their own
// schedule (own_schedule_tenants). Sorted, without NULLs. In one transaction.
std::vector<std::string> scheduled_tenants(const ScheduleSet &schedules);

// The same, found in steps that may each run in a transaction of their own (the scheduler commits
// between them, so that none of its transactions grows with the tenants): a step reads at most
// kStep tenants of one tenant table, by a loose index scan that goes on where the table's last
// step stopped; or a whole registry, or a whole table without an index leading with its tenant
// column (warned about once). A tenant added behind a scan's position meanwhile is found by the
// next discovery. Needs SPI connected at each step.
class TenantDiscovery {
public:
	static constexpr int kStep = 10000;
	explicit TenantDiscovery(const ScheduleSet &schedules) : schedules_(schedules) {}
	// Reads one more part; false once every source has been read (tenants() is then complete).
	bool step();
	std::vector<std::string> tenants() const;

private:
	struct Source {
		std::string first_sql, next_sql; // $1: at most this many tenants; $2: after this one
		bool whole = false;              // read in one step (first_sql, no parameters)
		bool registry = false;           // values in the registry's form, turned into stored tenants
		std::optional<std::string> cursor;
	};
	void plan();
	const ScheduleSet &schedules_;
	bool planned = false;
	std::vector<Source> sources;
	size_t current = 0;
	std::set<std::string> found;
};
// The tenants with a schedule row of their own (valid or not).
std::vector<std::string> own_schedule_tenants(const ScheduleSet &schedules);

// Now by the scheduler's clock (tenant_backup.scheduler_clock_offset added).
int64_t scheduler_now();

} // namespace tb::pg
