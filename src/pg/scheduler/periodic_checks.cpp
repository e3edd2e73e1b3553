#include "pg/scheduler/periodic_checks.hpp"

#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/scheduler/checks.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/scheduler/schedules.hpp"
#include "pg/scheduler/throttled_warning.hpp"

extern "C" {
#include "utils/timestamp.h"
}

#include <algorithm>
#include <chrono>
#include <climits>
#include <vector>

namespace tb::pg {

namespace {

constexpr int64_t kTrackInterval = 600; // new tenants' rows within ten minutes
constexpr int kBatch = 5000;            // tenants per transaction of the upkeep

std::vector<BackgroundWorkerHandle *> check_workers; // started by this scheduler, not yet seen stopped
bool tracking_due = true;
int64_t last_tracking = 0;
std::string tracked_key;

int64_t real_now() {
	return pg_eval([] { return static_cast<int64_t>(timestamptz_to_time_t(GetCurrentTimestamp())); });
}

int running_check_workers() {
	return static_cast<int>(forget_stopped_workers(check_workers).size());
}

// One transaction of the upkeep; false ends it (logged; redone at the next pass).
template <typename F> bool upkeep_step(int &transactions, double &longest, F &&fn) {
	bool locked = false;
	auto start = std::chrono::steady_clock::now();
	ErrorData *error = run_in_transaction("tenant_backup scheduler: checks upkeep", [&] {
		locked = lock_extension_tables();
		if (locked)
			fn();
	});
	transactions++;
	longest = std::max(longest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
	if (error) {
		warn_throttled("tenant_backup scheduler: could not keep up the verification and drill times: " +
		               take_error_message(error));
		return false;
	}
	return locked;
}

// check_state's rows for the tenants with a completed backup, and the times of rows made under
// other intervals, in batches. One LOG line when it changed something (DEBUG1 otherwise).
void keep_up_check_states() {
	Cadence cadence = Cadence::from_settings();
	bool changed = cadence.key() != tracked_key;
	int64_t real = real_now();
	if (!tracking_due && !changed && real - last_tracking < kTrackInterval)
		return;
	CheckChanges changes;
	int transactions = 0;
	double longest = 0;
	std::optional<std::string> after;
	do {
		if (!upkeep_step(transactions, longest,
		                 [&] { after = track_checked_tenants(cadence, scheduler_now(), after, kBatch, changes); }))
			return;
	} while (after);
	if (changed) {
		do {
			if (!upkeep_step(transactions, longest,
			                 [&] { after = recompute_check_states(cadence, scheduler_now(), after, kBatch, changes); }))
				return;
		} while (after);
	}
	tracking_due = false;
	last_tracking = real;
	tracked_key = cadence.key();
	char line[200];
	snprintf(line, sizeof(line),
	         "tenant_backup scheduler: verification and drill times: %d tenants added, %d recomputed, in %d "
	         "transactions (the longest %.2f s)",
	         changes.added, changes.recomputed, transactions, longest);
	int level = changes.added + changes.recomputed > 0 ? LOG : DEBUG1;
	pg_call([level, &line] { ereport(level, (errmsg("%s", line))); });
}

} // namespace

void check_states_due() {
	tracking_due = true;
}

int64_t start_checks_if_due() {
	keep_up_check_states();
	int free_slots = setting_max_parallel_checks() - running_check_workers();
	int due = 0;
	int64_t now = 0;
	std::optional<int64_t> earliest;
	ErrorData *error = run_in_transaction("tenant_backup scheduler: checks", [&] {
		if (!lock_extension_tables())
			return;
		now = scheduler_now();
		due = due_checks(free_slots, now, setting_drill_after_ddl());
		earliest = earliest_check();
	});
	if (error) {
		warn_throttled("tenant_backup scheduler: could not look for due verifications and drills: " +
		               take_error_message(error));
		return INT64_MAX;
	}
	std::string db = std::to_string(pg_eval([] { return MyDatabaseId; }));
	for (int i = 0; i < due; i++) {
		BackgroundWorkerHandle *handle =
		    pg_eval([&] { return start_worker("tenant_backup_check_main", "tenant_backup check", db, 0, true); });
		if (!handle) {
			int slots = pg_eval([] { return max_worker_processes; });
			warn_throttled("tenant_backup scheduler: could not start a background worker for a verification or "
			               "drill; it is tried again later",
			               "Every background worker slot is in use: raise max_worker_processes (now " +
			                   std::to_string(slots) + ").");
			break;
		}
		check_workers.push_back(handle);
	}
	// A check due now waits for a worker (one that ends wakes the scheduler), not for a timer.
	if (!earliest || *earliest <= now)
		return INT64_MAX;
	return *earliest - now;
}

} // namespace tb::pg
