// Which database each running scheduler serves, in shared memory (when tenant_backup is
// preloaded). The launcher keeps worker handles of the schedulers it started; one restarted by
// the postmaster has lost them, and without this would start a duplicate scheduler per database
// every 10 s (each exiting at once on the database's advisory lock) and could not stop one for a
// database removed from tenant_backup.databases.
#pragma once
#include <string>
#include <vector>

namespace tb::pg {

// From _PG_init while shared_preload_libraries is processed.
void request_scheduler_registry_memory();

// The scheduler, once it holds its database's lock: recorded until the process exits.
void register_scheduler(const char *database);

struct ServedDatabase {
	std::string database; // as tenant_backup.databases names it
	int pid = 0;
};
// The databases a scheduler serves now.
std::vector<ServedDatabase> served_databases();

// Wakes the scheduler of this database once the current transaction commits (a schedule changed:
// its next runs are computed at once, not at the next naptime). Nothing without the preload.
// PostgreSQL calls: inside pg_call.
void wake_scheduler_at_commit();

} // namespace tb::pg
