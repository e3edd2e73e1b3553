// The scheduler's periodic repair: every tenant_backup.sync_interval it starts a sync worker that
// runs what backup_sync() does (vanished copies marked missing, leftovers removed, abandoned
// uploads aborted, missing copies stored again), so that copies an outage or a crash left missing
// come back without anyone calling backup_sync(). One at a time per database; the first right
// after the scheduler starts (e.g. after a crash).
#pragma once
#include <cstdint>

namespace tb::pg {

// Starts a sync worker if one is due and none runs; returns the seconds until the next one is
// due (INT64_MAX when periodic sync is off). Called between the scheduler's transactions.
int64_t start_sync_if_due();

} // namespace tb::pg
