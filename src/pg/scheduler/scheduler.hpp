// The background workers of scheduled backups (see docs/SCHEDULES.md):
//
//   launcher   one per server, started at server start when tenant_backup is in
//              shared_preload_libraries; starts a scheduler per database named in
//              tenant_backup.databases and stops those no longer named (on SIGHUP).
//   scheduler  one per database; wakes at the next due run (at most every
//              tenant_backup.scheduler_naptime), marks jobs whose worker died as failed, and keeps
//              up to tenant_backup.max_parallel job workers running while tenants are due.
//   job        takes due tenants one after another: claims one, backs it up, records the
//              outcome, applies retention (each in a transaction of its own); exits when none
//              is due.
//   check      verifies every copy of tenants' newest backups and drills their restores, on
//              cadences and after schema changes, one tenant per transaction (periodic_checks.hpp);
//              up to tenant_backup.max_parallel_checks at once.
//
// Their entry points are plain C functions PostgreSQL calls; every C++ part runs under cpp_call.
#pragma once

namespace tb::pg {

// From _PG_init while shared_preload_libraries is processed.
void register_launcher();

} // namespace tb::pg
