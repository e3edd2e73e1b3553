#include "pg/scheduler/jobs.hpp"

#include "core/error.hpp"
#include "core/storage/storage.hpp"

#include "pg/catalog/audit.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/repository/registry.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"
#include "pg/boundary/warnings.hpp"

extern "C" {
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "utils/backend_status.h"
#include "utils/syscache.h"
}

#include <algorithm>
#include <map>
#include <set>

namespace tb::pg {

namespace {

constexpr int64_t kMaxRetryDelay = 6 * 3600;
constexpr int kFailedAttemptsKept = 10;

// A condition on schedule_state s: its worker holds no newer claim (by the index of running jobs).
const char *const kNoNewerClaim =
    "NOT EXISTS (SELECT FROM tenant_backup.schedule_state n WHERE n.running_backup_id IS NOT NULL "
    "AND n.running_pid = s.running_pid AND n.last_attempt_at > s.last_attempt_at)";

SqlValue epoch_text(std::optional<int64_t> t) {
	return t ? SqlValue(std::to_string(*t)) : std::nullopt;
}

// What an unfinished backup may have left, in every repository: its published archive or
// off-site copy (a crash between publishing and committing), an S3 multipart upload never
// completed, and temporary objects of workers that no longer exist.
// Each repository in a subtransaction of its own: whatever fails there (an unreachable S3, a
// PostgreSQL error) is logged and the failure is recorded all the same. An unreachable
// repository keeps the leftovers; backup_repository_check reports them later.
void remove_leftovers(int64_t backup_id) {
	std::string prefix = archive_name_prefix(backup_id);
	std::vector<std::string> repositories{kLocalRepository};
	std::optional<std::string> error = try_in_subtransaction([&] {
		for (const auto &row : spi_query("SELECT name FROM tenant_backup.repositories ORDER BY name"))
			repositories.push_back(*row[0]);
	});
	if (error)
		warn("tenant_backup: could not list the repositories: " + *error, "");
	for (const auto &name : repositories) {
		error = try_in_subtransaction([&] {
			std::shared_ptr<Storage> storage = open_storage(name);
			for (const auto &object : storage->list(prefix))
				storage->remove(object.name);
			for (const auto &upload : storage->list_incomplete_uploads())
				if (upload.name.compare(0, prefix.size(), prefix) == 0)
					storage->abort_incomplete_upload(upload);
			remove_stale_temporaries(*storage);
		});
		if (error)
			warn("tenant_backup: could not remove what backup " + std::to_string(backup_id) + " left in repository \"" +
			         name + "\": " + *error,
			     "");
	}
}

} // namespace

// Takes AccessShareLock on every table of the extension without waiting, and checks that they and
// the extension still exist. False when one is locked (DROP EXTENSION, or a CREATE EXTENSION
// still running, holds it): the caller does nothing and tries again later, instead of waiting
// for one table while holding another, which deadlocked with DROP EXTENSION ... CASCADE at
// start-up. The locks are held to the end of the transaction.
bool lock_extension_tables() {
	Oid extension = pg_eval([] { return get_extension_oid("tenant_backup", true); });
	if (!OidIsValid(extension))
		return false;
	auto rows = spi_query("SELECT d.objid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid "
	                      "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = "
	                      "'pg_catalog.pg_extension'::pg_catalog.regclass AND d.refobjid = $1::pg_catalog.oid "
	                      "AND d.deptype = 'e' AND c.relkind IN ('r', 'S')",
	                      {std::to_string(extension)});
	for (const auto &row : rows) {
		Oid relid = static_cast<Oid>(std::stoul(*row[0]));
		bool locked = pg_eval([relid] {
			return ConditionalLockRelationOid(relid, AccessShareLock) &&
			       SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid));
		});
		if (!locked)
			return false;
	}
	return OidIsValid(pg_eval([] { return get_extension_oid("tenant_backup", true); }));
}

void add_schedule_states(const std::vector<std::string> &tenants, StateChanges &changes) {
	if (tenants.empty())
		return;
	// The list is one text[] parameter, read once by unnest in FROM: a per-row `= ANY
	// ($1::text[])` would parse the whole array again for every row (O(tenants^2)).
	changes.added += static_cast<int>(
	    spi_query("INSERT INTO tenant_backup.schedule_state (tenant) SELECT u.t FROM unnest($1::text[]) AS u(t) "
	              "ON CONFLICT DO NOTHING RETURNING 1",
	              {text_array_literal(std::vector<SqlValue>(tenants.begin(), tenants.end()))})
	        .size());
}

std::optional<std::string> refresh_schedule_states(const ScheduleSet &schedules, const std::vector<std::string> *keep,
                                                   Recompute recompute, int64_t now,
                                                   const std::optional<std::string> &after, int limit,
                                                   StateChanges &changes) {
	std::vector<SqlValue> gone, changed_tenants, keys, next_runs;
	// In the index's order (the primary key's), from where the last batch stopped.
	auto rows = spi_query("SELECT tenant, coalesce(schedule_key, ''), extract(epoch FROM next_run)::bigint::text "
	                      "FROM tenant_backup.schedule_state WHERE running_backup_id IS NULL "
	                      "AND ($1::text IS NULL OR tenant > $1) ORDER BY tenant LIMIT $2::int",
	                      {after, std::to_string(limit)});
	for (const auto &row : rows) {
		const std::string &tenant = *row[0];
		if (keep && !std::binary_search(keep->begin(), keep->end(), tenant)) {
			gone.push_back(tenant);
			continue;
		}
		if (recompute == Recompute::None)
			continue;
		const Schedule *s = schedules.for_tenant(tenant);
		std::string key = s ? s->key() : "";
		if (key == *row[1] && recompute != Recompute::All)
			continue;
		std::optional<int64_t> next = s ? s->next_run(tenant, now) : std::nullopt;
		// The clock moved: a next run it left far behind was made on the old clock and is
		// recomputed; one it just passed (within a minute) or still ahead of is due as it was, so
		// that a move over a run's time runs it once, as a run missed while the server was down.
		int64_t computed = next.value_or(-1);
		if (key == *row[1] && recompute == Recompute::All && row[2] && computed >= 0) {
			int64_t stored = std::stoll(*row[2]);
			if (stored >= now - 60 && stored <= computed)
				continue;
		}
		changed_tenants.push_back(tenant);
		keys.push_back(key);
		next_runs.push_back(epoch_text(next));
	}
	// (A tenant claimed by a job worker since it was read keeps its row as the worker left it.)
	changes.dropped += static_cast<int>(gone.size());
	changes.computed += static_cast<int>(changed_tenants.size());
	if (!gone.empty())
		spi_query("DELETE FROM tenant_backup.schedule_state s USING unnest($1::text[]) AS u(t) "
		          "WHERE s.tenant = u.t AND s.running_backup_id IS NULL",
		          {text_array_literal(gone)});
	if (!changed_tenants.empty())
		spi_query("UPDATE tenant_backup.schedule_state s SET schedule_key = nullif(u.k, ''), "
		          "next_run = to_timestamp(u.n) FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(t, k, n) "
		          "WHERE s.tenant = u.t AND s.running_backup_id IS NULL",
		          {text_array_literal(changed_tenants), text_array_literal(keys), text_array_literal(next_runs)});
	if (rows.size() < static_cast<size_t>(limit))
		return std::nullopt;
	return rows.back()[0];
}

int due_tenants(int limit, int64_t now) {
	if (limit <= 0)
		return 0;
	auto rows = spi_query("SELECT count(*) FROM (SELECT FROM tenant_backup.schedule_state "
	                      "WHERE running_backup_id IS NULL AND next_run <= to_timestamp($1::bigint) "
	                      "ORDER BY next_run LIMIT $2::int) d",
	                      {std::to_string(now), std::to_string(limit)});
	return std::stoi(*rows.at(0)[0]);
}

std::optional<Claim> claim_next_job(int pid, int64_t now) {
	auto due = spi_query("SELECT tenant FROM tenant_backup.schedule_state "
	                     "WHERE running_backup_id IS NULL AND next_run <= to_timestamp($1::bigint) "
	                     "ORDER BY next_run, tenant LIMIT 1 FOR UPDATE SKIP LOCKED",
	                     {std::to_string(now)});
	if (due.empty())
		return std::nullopt;
	Claim claim{*due[0][0], next_backup_id()};
	std::string id = std::to_string(claim.backup_id);
	spi_query("INSERT INTO tenant_backup.backups (id, tenant, kind, label, status) "
	          "VALUES ($1::bigint, $2, 'auto', 'scheduled', 'running')",
	          {id, claim.tenant});
	// clock_timestamp(): running_jobs tells a claim made after its look at the workers by it.
	spi_query("UPDATE tenant_backup.schedule_state SET running_backup_id = $1::bigint, running_pid = $3::int, "
	          "last_attempt_at = clock_timestamp() WHERE tenant = $2",
	          {id, claim.tenant, std::to_string(pid)});
	return claim;
}

std::optional<int64_t> earliest_next_run() {
	auto rows = spi_query("SELECT extract(epoch FROM min(next_run))::bigint FROM tenant_backup.schedule_state "
	                      "WHERE running_backup_id IS NULL");
	return rows.empty() || !rows[0][0] ? std::nullopt : std::optional<int64_t>(std::stoll(*rows[0][0]));
}

RunningJobs running_jobs() {
	RunningJobs out;
	// The job workers first, then the claims: a claim whose worker was not there a moment before
	// it was read is lost, unless it was made after that moment (by a worker that started since).
	// Read the other way round, a job that committed its outcome and exited in between would look
	// lost.
	std::string looked_at = *spi_query("SELECT clock_timestamp()").at(0)[0];
	pg_call([] { pgstat_clear_backend_activity_snapshot(); });
	std::vector<SqlValue> pids, started;
	for (const auto &row : spi_query("SELECT a.pid, a.backend_start FROM pg_stat_activity a "
	                                 "WHERE a.backend_type = 'tenant_backup job' AND a.datid = (SELECT d.oid "
	                                 "FROM pg_database d WHERE d.datname = current_database())")) {
		out.worker_pids.push_back(std::stoi(*row[0]));
		pids.push_back(row[0]);
		started.push_back(row[1]);
	}
	// A worker claims its next tenant only once its claim is cleared (its outcome recorded, or it
	// stops): a claim of a worker that holds a newer one is not that worker's job any more.
	for (const auto &row :
	     spi_query(std::string("SELECT s.tenant, s.running_backup_id, coalesce(s.running_pid, 0), "
	                           "  s.last_attempt_at > $3::timestamptz OR (coalesce(s.last_attempt_at >= "
	                           "pg_postmaster_start_time(), false) AND EXISTS (SELECT FROM unnest($1::int[], "
	                           "$2::timestamptz[]) AS a(pid, started) WHERE a.pid = s.running_pid AND a.started <= "
	                           "s.last_attempt_at) AND ") +
	                   kNoNewerClaim +
	                   "), coalesce(extract(epoch FROM clock_timestamp() - s.last_attempt_at)::bigint, 0) "
	                   "FROM tenant_backup.schedule_state s WHERE s.running_backup_id IS NOT NULL",
	               {text_array_literal(pids), text_array_literal(started), looked_at}))
		out.jobs.push_back({*row[0], std::stoll(*row[1]), std::stoi(*row[2]), *row[3] == "t", std::stoll(*row[4])});
	return out;
}

bool lock_running_job(const RunningJob &job) {
	pg_call([] { pgstat_clear_backend_activity_snapshot(); });
	return !spi_query(std::string("SELECT 1 FROM tenant_backup.schedule_state s WHERE s.tenant = $1 "
	                              "AND s.running_backup_id = $2::bigint AND s.running_pid = $3::int "
	                              "AND EXISTS (SELECT FROM pg_catalog.pg_stat_activity a WHERE a.pid = s.running_pid "
	                              "AND a.backend_type = 'tenant_backup job' AND a.datid = (SELECT d.oid FROM "
	                              "pg_catalog.pg_database d WHERE d.datname = current_database()) "
	                              "AND a.backend_start <= s.last_attempt_at) AND ") +
	                      kNoNewerClaim + " FOR UPDATE OF s SKIP LOCKED",
	                  {job.tenant, std::to_string(job.backup_id), std::to_string(job.pid)})
	            .empty();
}

std::vector<int64_t> unclaimed_running_backups() {
	std::vector<int64_t> ids;
	for (const auto &row : spi_query("SELECT b.id FROM tenant_backup.backups b WHERE b.status = 'running' "
	                                 "AND b.kind = 'auto' AND NOT EXISTS (SELECT 1 FROM tenant_backup.schedule_state s "
	                                 "WHERE s.running_backup_id = b.id)"))
		ids.push_back(std::stoll(*row[0]));
	return ids;
}

void record_job_success(const std::string &tenant, int64_t backup_id) {
	ScheduleSet schedules = load_schedules(tenant);
	const Schedule *s = schedules.for_tenant(tenant);
	spi_query("UPDATE tenant_backup.schedule_state SET running_backup_id = NULL, running_pid = NULL, "
	          "last_success_at = now(), consecutive_failures = 0, last_error = NULL, schedule_key = $3, "
	          "next_run = to_timestamp($4::bigint) WHERE tenant = $1 AND running_backup_id = $2::bigint",
	          {tenant, std::to_string(backup_id), s ? SqlValue(s->key()) : std::nullopt,
	           epoch_text(s ? s->next_run(tenant, scheduler_now()) : std::nullopt)});
}

void record_job_failure(const std::string &known_tenant, int64_t backup_id, const std::string &reason) {
	std::string id = std::to_string(backup_id);
	auto failed = spi_query("UPDATE tenant_backup.backups SET status = 'failed', error = $2, "
	                        "finished_at = clock_timestamp() WHERE id = $1::bigint AND status = 'running' "
	                        "RETURNING tenant",
	                        {id, reason});
	if (!failed.empty()) {
		remove_leftovers(backup_id); // never for a backup that completed meanwhile
		// A tenant that keeps failing keeps its latest failed attempts only (the state row
		// counts them all).
		spi_query("DELETE FROM tenant_backup.backups WHERE tenant = $1 AND kind = 'auto' AND status = 'failed' "
		          "AND id NOT IN (SELECT id FROM tenant_backup.backups WHERE tenant = $1 AND kind = 'auto' "
		          "AND status = 'failed' ORDER BY id DESC LIMIT $2::int)",
		          {*failed[0][0], std::to_string(kFailedAttemptsKept)});
	}
	std::string tenant = known_tenant.empty() && !failed.empty() ? *failed[0][0] : known_tenant;
	auto state = spi_query("SELECT consecutive_failures FROM tenant_backup.schedule_state "
	                       "WHERE tenant = $1 AND running_backup_id = $2::bigint FOR UPDATE",
	                       {tenant, id});
	if (state.empty()) {
		warn("tenant_backup: scheduled backup " + id + " of tenant \"" + tenant + "\" failed: " + reason, "");
		return;
	}
	int failures = std::stoi(*state[0][0]) + 1;
	int64_t now = scheduler_now();
	int64_t delay = setting_retry_interval();
	for (int i = 1; i < failures && delay < kMaxRetryDelay; i++)
		delay *= 2;
	std::optional<int64_t> retry = now + std::min(delay, kMaxRetryDelay);
	ScheduleSet schedules = load_schedules(tenant);
	const Schedule *s = schedules.for_tenant(tenant);
	std::optional<int64_t> regular = s ? s->next_run(tenant, now) : std::nullopt;
	if (!s || !s->enabled)
		retry = std::nullopt; // unscheduled meanwhile: no retry
	else if (regular && *regular < *retry)
		retry = regular;
	spi_query("UPDATE tenant_backup.schedule_state SET running_backup_id = NULL, running_pid = NULL, "
	          "consecutive_failures = $3::int, last_error = $4, last_failure_at = now(), schedule_key = $5, "
	          "next_run = to_timestamp($6::bigint) WHERE tenant = $1 AND running_backup_id = $2::bigint",
	          {tenant, id, std::to_string(failures), reason, s ? SqlValue(s->key()) : std::nullopt, epoch_text(retry)});
	warn("tenant_backup: scheduled backup " + id + " of tenant \"" + tenant + "\" failed (" + std::to_string(failures) +
	         " in a row): " + reason,
	     retry ? "It is retried in " + std::to_string(*retry - now) + " s." : "");
}

int apply_retention(const std::string &tenant, const Schedule &schedule, int64_t now) {
	// Backups' times on the scheduler's clock, as `now` is (the test clock's offset added).
	int64_t offset = setting_clock_offset();
	// Only backups that can be restored count: one whose every copy is missing (the node-local
	// repository of a primary that failed over) neither fills a slot nor is removed (a copy may
	// come back, e.g. a disk mounted again; backup_delete removes it). Issue 24.4.
	auto rows = spi_query("SELECT id, extract(epoch FROM created_at)::bigint + $2::bigint, "
	                      "pinned OR coalesce(keep_until > now(), false) FROM tenant_backup.backups b "
	                      "WHERE tenant = $1 AND kind = 'auto' AND status = 'completed' AND EXISTS (SELECT FROM "
	                      "tenant_backup.backup_copies c WHERE c.backup_id = b.id AND c.state = 'stored')",
	                      {tenant, std::to_string(offset)});
	std::vector<schedule::RetainedBackup> backups;
	std::set<int64_t> protected_ids;
	for (const auto &row : rows) {
		backups.push_back({std::stoll(*row[0]), std::stoll(*row[1])});
		if (*row[2] == "t")
			protected_ids.insert(backups.back().id);
	}
	std::vector<int64_t> doomed = schedule::backups_to_delete(backups, schedule.retention, now, *schedule.zone);
	doomed.erase(std::remove_if(doomed.begin(), doomed.end(), [&](int64_t id) { return protected_ids.count(id); }),
	             doomed.end());
	if (doomed.empty())
		return 0;
	lock_tenant(tenant, true); // not while a restore of the tenant reads an archive
	for (int64_t id : doomed) {
		StoredBackup backup = load_backup(id);
		remove_copies_at_commit(backup, "retention"); // every copy, in every repository
		delete_backup_row(id);
		audit_in_transaction({"delete", tenant, id, "ok", "retention (" + schedule.cron_text + ")"});
	}
	// Failed attempts older than every backup kept tell nothing any more.
	std::set<int64_t> gone(doomed.begin(), doomed.end());
	int64_t oldest_kept = INT64_MAX;
	for (const auto &b : backups)
		if (!gone.count(b.id))
			oldest_kept = std::min(oldest_kept, b.taken_at);
	spi_query("DELETE FROM tenant_backup.backups WHERE tenant = $1 AND kind = 'auto' AND status = 'failed' "
	          "AND created_at < to_timestamp($2::bigint)",
	          {tenant, std::to_string(oldest_kept - offset)});
	return static_cast<int>(doomed.size());
}

int expire_pre_restore_backups(int days, int limit) {
	auto rows = spi_query("SELECT id, tenant FROM tenant_backup.backups WHERE kind = 'pre_restore' "
	                      "AND created_at < now() - make_interval(days => $1::int) AND NOT pinned "
	                      "AND NOT coalesce(keep_until > now(), false) ORDER BY created_at LIMIT $2::int",
	                      {std::to_string(days), std::to_string(limit)});
	for (const auto &row : rows) {
		int64_t id = std::stoll(*row[0]);
		lock_tenant(*row[1], true); // not while a restore of the tenant reads an archive
		StoredBackup backup = load_backup(id);
		remove_copies_at_commit(backup, "pre_restore retention"); // every copy, in every repository
		delete_backup_row(id);
		audit_in_transaction(
		    {"delete", *row[1], id, "ok", "retention (pre_restore, " + std::to_string(days) + " days)"});
	}
	return static_cast<int>(rows.size());
}

} // namespace tb::pg
