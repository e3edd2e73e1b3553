// A check worker (issue 20; periodic_checks.hpp): takes due checks one after another until none is
// left, each claimed and done in a transaction of its own (the tenant's check_state row locked
// meanwhile, so that no other worker takes it, and a crash leaves nothing to reap): a drill after
// a schema change (when the tenant's newest backup holds a changed table), a verification of every
// stored copy of the newest backup, a restore drill of it. Every object it reads counts against
// tenant_backup.check_max_read_rate (its share of it). Failures are logged with the tenant, the
// backup, the copy and the cause, and audited.
#include "core/error.hpp"
#include "pg/archive/backup_check.hpp"
#include "pg/archive/restore_drill.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/ownership.hpp"
#include "pg/repository/registry.hpp"
#include "pg/scheduler/checks.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/scheduler/schedules.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "utils/guc.h"
}

#include <algorithm>
#include <chrono>

namespace tb::pg {

namespace {

constexpr int64_t kRetry = 3600; // a copy out of reach, or a check that failed: again in an hour

struct CheckCounts {
	int verified = 0, damaged = 0, unreachable = 0, drilled = 0, drills_failed = 0, skipped = 0;
};

void apply_settings() {
	// The rate is shared by the workers that may run at once.
	uint64_t workers = static_cast<uint64_t>(std::max(1, setting_max_parallel_checks()));
	limit_read_rate(setting_check_max_read_rate() / workers);
	set_audit_log_lines(setting_log_scheduled_backups());
}

std::string of_backup(const StoredBackup &backup) {
	return "backup " + std::to_string(backup.id) + " of tenant \"" + backup.tenant + "\"";
}

// Every stored copy of the newest backup; returns when to try again if a copy was out of reach.
std::optional<int64_t> verify_newest(const StoredBackup &backup, int64_t now, CheckCounts &counts) {
	CopiesOutcome result = verify_every_copy(backup);
	counts.verified++;
	std::optional<int64_t> retry;
	std::string problems, verified;
	for (const CopyCheck &c : result.copies) {
		if (c.verdict == CopyCheck::Verdict::Ok) {
			verified += (verified.empty() ? "" : ", ") + c.repository;
			continue;
		}
		problems += (problems.empty() ? "" : "; ") + c.repository + ": " + c.error;
		if (c.verdict == CopyCheck::Verdict::Damaged) {
			counts.damaged++;
			warn("tenant_backup: the copy of " + of_backup(backup) + " in repository \"" + c.repository +
			         "\" failed its verification: " + c.error,
			     "It is recorded missing: backup_sync() (or the scheduler's periodic sync) stores it again from a "
			     "healthy copy.");
		} else {
			counts.unreachable++;
			retry = now + kRetry;
			warn("tenant_backup: the copy of " + of_backup(backup) + " in repository \"" + c.repository +
			         "\" could not be verified: " + c.error,
			     "It is verified again within an hour.");
		}
	}
	if (result.copies.empty())
		problems = result.outcome.error;
	if (!result.outcome.ok && result.verdict)
		warn("tenant_backup: " + of_backup(backup) + " failed its verification: no copy is intact: " + problems,
		     "backup_status counts the tenant unprotected until a backup is verified.");
	bool all_ok = problems.empty();
	audit_in_transaction({"verify", backup.tenant, backup.id, all_ok ? "ok" : "failed",
	                      all_ok ? "scheduled: every copy verified (" + verified + ")" : "scheduled: " + problems});
	return retry;
}

void drill_newest(const StoredBackup &backup, CheckKind why, CheckCounts &counts) {
	// drill_backup records the outcome, and logs a failure as a WARNING naming the tenant, the
	// backup and the cause.
	DrillOutcome out = drill_backup(backup);
	counts.drilled++;
	if (!out.ok)
		counts.drills_failed++;
	std::string reason = why == CheckKind::SchemaChange ? "after a schema change" : "scheduled";
	audit_in_transaction(
	    {"drill", backup.tenant, backup.id, out.ok ? "ok" : "failed", out.ok ? reason : reason + ": " + out.error});
}

// One due check, in the caller's transaction. `claimed` is set once a tenant is claimed; false
// when none is due (or the extension is being changed).
bool run_one_check(std::optional<CheckClaim> &claimed, CheckCounts &counts) {
	if (!lock_extension_tables())
		return false;
	Cadence cadence = Cadence::from_settings();
	int64_t now = scheduler_now();
	claimed = claim_next_check(now, setting_drill_after_ddl());
	if (!claimed)
		return false;
	CheckClaim &claim = *claimed;
	std::string activity =
	    std::string("tenant_backup check: ") + check_kind_name(claim.kind) + " of tenant " + claim.tenant;
	const char *a = activity.c_str();
	pg_call([a] { pgstat_report_activity(STATE_RUNNING, a); });
	// As backup_verify reads: the tenant's shared lock, then the catalog, so that a delete or
	// restore that committed meanwhile (they hold the tenant exclusively) is seen.
	lock_tenant(claim.tenant, false);
	std::optional<int64_t> id = newest_backup(claim.tenant);
	std::optional<StoredBackup> backup = id ? find_backup(*id, false) : std::nullopt;
	if (!backup) {
		forget_check_state(claim.tenant); // no completed backup left
		return true;
	}
	std::optional<int64_t> retry;
	if (claim.kind == CheckKind::SchemaChange) {
		if (!holds_changed_table(backup->id, claim.schema_seen)) {
			counts.skipped++;
			finish_check(claim, cadence, now);
			return true;
		}
		drill_newest(*backup, CheckKind::SchemaChange, counts);
		claim.kind = CheckKind::Drill; // its next drill on the cadence from now
	} else if (claim.kind == CheckKind::Drill) {
		drill_newest(*backup, CheckKind::Drill, counts);
	} else {
		retry = verify_newest(*backup, now, counts);
	}
	finish_check(claim, cadence, scheduler_now(), retry);
	return true;
}

// Takes due checks until none is left. A check that fails (an error that is not the backup's: a
// missing key, a lock timeout) is logged and tried again in an hour, in a transaction of its own.
void run_checks() {
	CheckCounts counts;
	apply_settings();
	auto started = std::chrono::steady_clock::now();
	while (!pg_eval([] { return static_cast<bool>(ShutdownRequestPending); })) {
		pg_call([] {
			if (ConfigReloadPending) {
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
		});
		apply_settings();
		std::optional<CheckClaim> claimed;
		bool more = false;
		ErrorData *error = run_in_transaction("tenant_backup check", [&] { more = run_one_check(claimed, counts); });
		if (!error && !more)
			break;
		if (!error)
			continue;
		std::string message = take_error_message(error);
		if (!claimed) {
			warn("tenant_backup check: " + message);
			break;
		}
		warn("tenant_backup check: the " + std::string(check_kind_name(claimed->kind)) + " of tenant \"" +
		         claimed->tenant + "\" failed: " + message,
		     "It is tried again in an hour.");
		error = run_in_transaction("tenant_backup check: postponing", [&] {
			if (!lock_extension_tables())
				return;
			int64_t now = scheduler_now();
			CheckClaim later = *claimed;
			// A drill after a schema change becomes a drill then.
			if (later.kind == CheckKind::SchemaChange)
				later.kind = CheckKind::Drill;
			postpone_check(later, now + kRetry);
		});
		if (error) {
			warn("tenant_backup check: " + take_error_message(error));
			break;
		}
	}
	if (counts.verified + counts.drilled + counts.skipped == 0)
		return;
	double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
	std::string line = "tenant_backup check: " + std::to_string(counts.verified) + " backups verified (" +
	                   std::to_string(counts.damaged) + " copies damaged, " + std::to_string(counts.unreachable) +
	                   " out of reach), " + std::to_string(counts.drilled) + " drilled (" +
	                   std::to_string(counts.drills_failed) + " failed), " + std::to_string(counts.skipped) +
	                   " unaffected by schema changes, in " + std::to_string(static_cast<int64_t>(seconds)) + " s";
	const char *l = line.c_str();
	pg_call([l] { ereport(LOG, (errmsg("%s", l))); });
}

} // namespace

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_check_main(Datum arg);

void tenant_backup_check_main(Datum) {
	tb::pg::worker_signals();
	Oid database = static_cast<Oid>(strtoul(MyBgworkerEntry->bgw_extra, nullptr, 10));
	tb::pg::worker_connect(database, nullptr, "tenant_backup check");
	tb::pg::cpp_call([] {
		tb::pg::cache_ownership_in_this_process();
		tb::pg::run_checks();
	});
	proc_exit(0);
}
