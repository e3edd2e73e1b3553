// The audit trail's channel out of a transaction that is about to abort (or whose outcome does
// not matter: data that has left): a fixed-size queue in shared memory, drained into
// tenant_backup.backup_audit by the database's scheduler. It needs no background-worker slot, so
// filling max_worker_processes (parallel queries of any role) cannot keep an event out of the
// trail. Only when tenant_backup is in shared_preload_libraries (shared memory is sized at
// server start) and a scheduler serves the database; otherwise audit.cpp falls back to a
// short-lived worker.
//
// Queueing copies a fixed-size record under an LWLock: no SQL, no catalog access, no waiting on
// anything but the lock, so it is safe right after an error was caught, before the abort.
#pragma once
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <vector>

namespace tb::pg {

// One event, as plain bytes. Strings are NUL-terminated, clipped at a character boundary.
struct QueuedAuditEvent {
	Oid database;
	TimestampTz at;
	int64 backup_id; // 0: none
	char session_user[NAMEDATALEN];
	char current_user[NAMEDATALEN];
	char client[64]; // "" for a Unix socket or a worker
	char action[32];
	char outcome[16];
	char tenant[kMaxTenantBytes + 1];
	char error[2048];
};

// From _PG_init while shared_preload_libraries is processed.
void request_audit_queue_memory();

// The scheduler: from now until it exits, events of its database are queued for it.
void register_audit_drainer();

enum class QueueOutcome {
	Queued,
	NoQueue, // not preloaded, or no scheduler drains this database
	Full,
};
// Queues the event (its database's drainer is woken). Never blocks on anything but the lock.
QueueOutcome queue_audit_event(const QueuedAuditEvent &event);

// Takes up to `max` events of `database` out of the queue, oldest first.
std::vector<QueuedAuditEvent> take_audit_events(Oid database, int max);

} // namespace tb::pg
