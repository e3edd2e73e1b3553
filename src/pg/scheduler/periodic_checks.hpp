// The scheduler's verifications and restore drills (issue 20; the catalog side is checks.hpp):
// it keeps tenant_backup.check_state up (every ten minutes, on reload, and when the intervals
// change: the tenants with a completed backup get a row, in batches of 5,000 tenants per
// transaction), and starts up to tenant_backup.max_parallel_checks check workers while checks
// are due. A check worker takes due checks one after another, one tenant per transaction: a
// drill after a schema change, a verification of every copy, a drill on the cadence.
#pragma once
#include <cstdint>

namespace tb::pg {

// Called between the scheduler's transactions; returns the seconds until the next check is due
// (INT64_MAX when none is known, or when one is due but no worker slot is free).
int64_t start_checks_if_due();

// A reload: the next pass keeps check_state up again (new tenants' rows, changed intervals).
void check_states_due();

} // namespace tb::pg
