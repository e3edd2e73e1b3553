// The catalog side of the scheduler's verifications and restore drills (issue 20):
// tenant_backup.check_state, one row per tenant with a completed backup, says when its newest
// backup is verified next (every stored copy, verify_every_copy) and drilled next (drill_backup),
// each on a cadence of its own spread over the interval by a hash of the tenant
// (schedule::next_cadence_run, the backup window's rule); and which generation of
// tenant_backup.schema_changes (the DDL event trigger's one row per changed table) its newest
// backup was last checked against. Every statement reaches its rows by index: the scheduler's
// upkeep in batches of a few thousand tenants per transaction, a check worker one tenant per
// transaction. Needs SPI connected.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace tb::pg {

// The intervals in force (tenant_backup.verify_interval, drill_interval; 0: none).
struct Cadence {
	int64_t verify_interval = 0, drill_interval = 0;
	static Cadence from_settings();
	// What the next times depend on: a row made under another key is recomputed.
	std::string key() const;
	std::optional<int64_t> next_verify(const std::string &tenant, int64_t after) const;
	std::optional<int64_t> next_drill(const std::string &tenant, int64_t after) const;
};

// What the upkeep changed, counted for its log line.
struct CheckChanges {
	int added = 0, recomputed = 0;
};

// One batch of the upkeep: state rows for the tenants with a completed backup after `after` (at
// most `limit` of them, by a loose scan of a tenant index of backups), with their first times after
// `now`; tenants that have a row keep it. Returns where the next batch starts, or nullopt.
std::optional<std::string> track_checked_tenants(const Cadence &cadence, int64_t now,
                                                 const std::optional<std::string> &after, int limit,
                                                 CheckChanges &changes);

// One batch of a pass over the state rows after `after` (primary key order) that recomputes those
// made under another cadence. Rows a check worker holds are skipped: it recomputes its own.
std::optional<std::string> recompute_check_states(const Cadence &cadence, int64_t now,
                                                  const std::optional<std::string> &after, int limit,
                                                  CheckChanges &changes);

// How many tenants have a check due now (a drill after a schema change when `after_ddl`, a
// verification, a drill), counting up to `limit`.
int due_checks(int limit, int64_t now, bool after_ddl);

// The earliest next verification or drill, if any.
std::optional<int64_t> earliest_check();

enum class CheckKind { SchemaChange, Verify, Drill };
const char *check_kind_name(CheckKind kind);

struct CheckClaim {
	std::string tenant;
	CheckKind kind = CheckKind::Verify;
	int64_t schema_seen = 0;       // the generation the tenant's newest backup was checked against
	int64_t schema_generation = 0; // the newest generation now
};

// The first tenant with a check due (schema changes first, then verifications, then drills),
// its state row locked until the transaction ends (FOR UPDATE SKIP LOCKED: workers never take the
// same tenant, and a crash leaves nothing claimed). nullopt when none is due.
std::optional<CheckClaim> claim_next_check(int64_t now, bool after_ddl);

// The tenant's newest completed backup, if any (one index probe).
std::optional<int64_t> newest_backup(const std::string &tenant);

// Whether the backup holds a table changed after generation `since` (by its OID now), or one whose
// name no longer resolves (renamed or dropped since).
bool holds_changed_table(int64_t backup_id, int64_t since);

// Records a claimed check done: a verification's next time (at the cadence after `now`, or
// `retry_at` when a copy could not be reached), a drill's next time, and the schema generation
// checked (SchemaChange and Drill). The row takes the cadence's key.
void finish_check(const CheckClaim &claim, const Cadence &cadence, int64_t now,
                  std::optional<int64_t> retry_at = std::nullopt);

// A claimed check that failed (not the backup's verdict: an error of the environment): a
// verification or drill is due again at `until`; a drill's schema generation counts as seen (the
// drill at `until` checks it).
void postpone_check(const CheckClaim &claim, int64_t until);

// The tenant has no completed backup left: its row goes.
void forget_check_state(const std::string &tenant);

} // namespace tb::pg
