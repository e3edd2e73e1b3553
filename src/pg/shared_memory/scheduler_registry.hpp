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

// The launcher, at its start: recorded until it exits, so that backends can wake it.
void register_launcher_process();
// Whether a launcher runs (tenant_backup preloaded, the launcher started).
bool launcher_running();

// Asks the launcher, once the current transaction commits, to look for the extension in this
// database again (CREATE EXTENSION ran; a schedule was set where no scheduler serves): with
// tenant_backup.databases = '*' it starts a scheduler there at once rather than at its next
// rescan. Nothing without the preload. PostgreSQL calls: inside pg_call.
void wake_launcher_at_commit();
// The same, at once (the extension is committed already). PostgreSQL calls: inside pg_call.
void wake_launcher_now();

// The launcher: the databases backends asked it to look at since the last call; `all` when more
// were asked than it keeps (then every database is looked at again).
std::vector<std::string> take_launcher_requests(bool &all);

} // namespace tb::pg
