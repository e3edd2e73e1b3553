// Structs of ours in shared memory, which exist only when the library is preloaded. Each part
// (progress slots, the scheduler registry, the audit queue) registers its struct once from
// _PG_init; one shmem_request_hook and one shmem_startup_hook, chained once, serve them all.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <cstddef>

namespace tb::pg {

struct SharedStruct {
	const char *name;           // ShmemInitStruct's name
	Size size;                  // bytes
	const char *lwlock_tranche; // a named tranche of one LWLock to request, or nullptr
	void (*init)(void *memory); // on the zeroed struct, once per postmaster start (may be nullptr)
	void **address;             // where every process keeps the struct's address
};

// Registers `s`, which must have static storage duration. Call from _PG_init while
// shared_preload_libraries is being processed. Plain C calls.
void add_shared_struct(const SharedStruct *s);

// Copies at most size - 1 bytes of from[0..length) and a NUL, never splitting a character;
// returns whether it clipped. For text copied into fixed-size shared slots.
bool copy_clipped(char *to, size_t size, const char *from, size_t length);

} // namespace tb::pg
