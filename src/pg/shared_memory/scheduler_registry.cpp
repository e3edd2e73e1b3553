#include "pg/shared_memory/scheduler_registry.hpp"

#include "pg/boundary/pg_headers.hpp"
#include "pg/shared_memory/shared_memory.hpp"

extern "C" {
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
}

#include <csignal>

namespace tb::pg {

namespace {

constexpr int kEntries = 64; // databases served at once that the launcher can see; more still run

struct Entry {
	int pid; // 0: free
	char database[BGW_EXTRALEN];
};

struct Registry {
	slock_t mutex;
	Entry entries[kEntries];
};

Registry *registry = nullptr; // in shared memory, or nullptr when not preloaded
Entry *mine = nullptr;

void init_registry(void *memory) {
	SpinLockInit(&static_cast<Registry *>(memory)->mutex);
}

const SharedStruct registry_memory{"tenant_backup schedulers", sizeof(Registry), nullptr, init_registry,
                                   reinterpret_cast<void **>(&registry)};

void unregister_at_exit(int, Datum) {
	if (!mine)
		return;
	SpinLockAcquire(&registry->mutex);
	mine->pid = 0;
	SpinLockRelease(&registry->mutex);
	mine = nullptr;
}

} // namespace

void request_scheduler_registry_memory() {
	add_shared_struct(&registry_memory);
}

// Plain C calls: runs in the scheduler's main function, before any C++ object lives.
void register_scheduler(const char *database) {
	if (!registry || mine)
		return;
	before_shmem_exit(unregister_at_exit, 0); // any exit, ERROR and FATAL included
	SpinLockAcquire(&registry->mutex);
	for (int i = 0; i < kEntries && !mine; i++)
		if (registry->entries[i].pid == 0) {
			mine = &registry->entries[i];
			mine->pid = MyProcPid;
			strlcpy(mine->database, database, sizeof(mine->database));
		}
	SpinLockRelease(&registry->mutex);
}

std::vector<ServedDatabase> served_databases() {
	std::vector<ServedDatabase> out;
	if (!registry)
		return out;
	static Entry copy[kEntries]; // copied under the spinlock, turned into strings after it
	SpinLockAcquire(&registry->mutex);
	memcpy(copy, registry->entries, sizeof(copy));
	SpinLockRelease(&registry->mutex);
	for (const Entry &e : copy)
		if (e.pid != 0)
			out.push_back({e.database, e.pid});
	return out;
}

namespace {

bool wake_pending = false;
char wake_database[NAMEDATALEN];

// Plain C: the scheduler serving the database, 0 if none.
int scheduler_pid_of(const char *database) {
	int pid = 0;
	if (!registry)
		return 0;
	SpinLockAcquire(&registry->mutex);
	for (int i = 0; i < kEntries && !pid; i++)
		if (registry->entries[i].pid != 0 && strcmp(registry->entries[i].database, database) == 0)
			pid = registry->entries[i].pid;
	SpinLockRelease(&registry->mutex);
	return pid;
}

// Plain C, no catalog access (the transaction is over): SIGUSR1 sets a worker's latch.
void wake_at_commit(XactEvent event, void *) {
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_COMMIT &&
	    event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (wake_pending && (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)) {
		int pid = scheduler_pid_of(wake_database);
		if (pid != 0)
			kill(pid, SIGUSR1);
	}
	wake_pending = false;
}

} // namespace

void wake_scheduler_at_commit() {
	static bool registered = false;
	if (!registry)
		return;
	if (!registered) {
		RegisterXactCallback(wake_at_commit, nullptr);
		registered = true;
	}
	char *name = get_database_name(MyDatabaseId);
	strlcpy(wake_database, name ? name : "", sizeof(wake_database));
	wake_pending = true;
}

} // namespace tb::pg
