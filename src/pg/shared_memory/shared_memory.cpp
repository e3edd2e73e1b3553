#include "pg/shared_memory/shared_memory.hpp"

extern "C" {
#include "mb/pg_wchar.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

#include <cstring>

namespace tb::pg {

namespace {

constexpr int kMaxStructs = 8;
const SharedStruct *structs[kMaxStructs];
int count = 0;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

void request_memory() {
	if (previous_request_hook)
		previous_request_hook();
	for (int i = 0; i < count; i++) {
		RequestAddinShmemSpace(structs[i]->size);
		if (structs[i]->lwlock_tranche)
			RequestNamedLWLockTranche(structs[i]->lwlock_tranche, 1);
	}
}

void attach_memory() {
	if (previous_startup_hook)
		previous_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < count; i++) {
		const SharedStruct *s = structs[i];
		bool found;
		void *memory = ShmemInitStruct(s->name, s->size, &found);
		if (!found) {
			memset(memory, 0, s->size);
			if (s->init)
				s->init(memory);
		}
		*s->address = memory;
	}
	LWLockRelease(AddinShmemInitLock);
}

} // namespace

void add_shared_struct(const SharedStruct *s) {
	if (count == kMaxStructs)
		elog(ERROR, "tenant_backup: too many shared memory structs");
	if (count == 0) {
		previous_request_hook = shmem_request_hook;
		shmem_request_hook = request_memory;
		previous_startup_hook = shmem_startup_hook;
		shmem_startup_hook = attach_memory;
	}
	structs[count++] = s;
}

bool copy_clipped(char *to, size_t size, const char *from, size_t length) {
	size_t n = length < size ? length : static_cast<size_t>(pg_mbcliplen(from, static_cast<int>(length), size - 1));
	memcpy(to, from, n);
	to[n] = '\0';
	return n < length;
}

} // namespace tb::pg
