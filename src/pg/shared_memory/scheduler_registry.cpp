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

constexpr int kEntries = 64;  // databases served at once that the launcher can see; more still run
constexpr int kRequests = 16; // databases to look at again, asked by backends; more: all of them

struct Entry {
	int pid; // 0: free
	char database[BGW_EXTRALEN];
};

struct Registry {
	slock_t mutex;
	Entry entries[kEntries];
	int launcher_pid;  // 0: none
	int request_count; // > kRequests: more were asked than kept
	char requests[kRequests][NAMEDATALEN];
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
bool wake_launcher_pending = false;
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

// Plain C: queues the database for the launcher to look at, and sets its latch (SIGUSR1).
void ask_launcher(const char *database) {
	SpinLockAcquire(&registry->mutex);
	bool known = false;
	for (int i = 0; i < registry->request_count && i < kRequests && !known; i++)
		known = strcmp(registry->requests[i], database) == 0;
	if (!known) {
		if (registry->request_count < kRequests)
			strlcpy(registry->requests[registry->request_count], database, NAMEDATALEN);
		if (registry->request_count <= kRequests)
			registry->request_count++;
	}
	int pid = registry->launcher_pid;
	SpinLockRelease(&registry->mutex);
	if (pid != 0)
		kill(pid, SIGUSR1);
}

// Plain C, no catalog access (the transaction is over): SIGUSR1 sets a worker's latch.
void wake_at_commit(XactEvent event, void *) {
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_COMMIT &&
	    event != XACT_EVENT_PARALLEL_ABORT)
		return;
	bool committed = event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT;
	if (wake_pending && committed) {
		int pid = scheduler_pid_of(wake_database);
		if (pid != 0)
			kill(pid, SIGUSR1);
	}
	if (wake_launcher_pending && committed)
		ask_launcher(wake_database);
	wake_pending = false;
	wake_launcher_pending = false;
}

void register_callback() {
	static bool registered = false;
	if (!registered) {
		RegisterXactCallback(wake_at_commit, nullptr);
		registered = true;
	}
}

void remember_database() {
	char *name = get_database_name(MyDatabaseId);
	strlcpy(wake_database, name ? name : "", sizeof(wake_database));
}

void unregister_launcher_at_exit(int, Datum) {
	SpinLockAcquire(&registry->mutex);
	if (registry->launcher_pid == MyProcPid)
		registry->launcher_pid = 0;
	SpinLockRelease(&registry->mutex);
}

} // namespace

void wake_scheduler_at_commit() {
	if (!registry)
		return;
	register_callback();
	remember_database();
	wake_pending = true;
}

void wake_launcher_at_commit() {
	if (!registry)
		return;
	register_callback();
	remember_database();
	wake_launcher_pending = true;
}

void wake_launcher_now() {
	if (!registry)
		return;
	char *name = get_database_name(MyDatabaseId);
	ask_launcher(name ? name : "");
}

// Plain C calls: runs in the launcher's main function.
void register_launcher_process() {
	if (!registry)
		return;
	before_shmem_exit(unregister_launcher_at_exit, 0);
	SpinLockAcquire(&registry->mutex);
	registry->launcher_pid = MyProcPid;
	SpinLockRelease(&registry->mutex);
}

bool launcher_running() {
	if (!registry)
		return false;
	SpinLockAcquire(&registry->mutex);
	int pid = registry->launcher_pid;
	SpinLockRelease(&registry->mutex);
	return pid != 0;
}

std::vector<std::string> take_launcher_requests(bool &all) {
	std::vector<std::string> out;
	all = false;
	if (!registry)
		return out;
	static char copy[kRequests][NAMEDATALEN]; // copied under the spinlock, turned into strings after it
	SpinLockAcquire(&registry->mutex);
	int count = registry->request_count;
	memcpy(copy, registry->requests, sizeof(copy));
	registry->request_count = 0;
	SpinLockRelease(&registry->mutex);
	all = count > kRequests;
	for (int i = 0; i < count && i < kRequests; i++)
		out.emplace_back(copy[i]);
	return out;
}

} // namespace tb::pg
