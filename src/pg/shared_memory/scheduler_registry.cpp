#include "pg/shared_memory/scheduler_registry.hpp"

#include "pg/boundary/pg_headers.hpp"
#include "pg/shared_memory/shared_memory.hpp"

extern "C" {
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
}

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

} // namespace tb::pg
