#include "pg/shared_memory/audit_queue.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/shared_memory/shared_memory.hpp"

#include <algorithm>

extern "C" {
#include "mb/pg_wchar.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
}

namespace tb::pg {

namespace {

constexpr int kQueueSlots = 128; // events waiting at once; more go to the server log only
constexpr int kDrainers = 64;    // schedulers (databases) at once
const char *const kTrancheName = "tenant_backup audit queue";

struct Slot {
	uint64 sequence; // 0: free; otherwise the order events were queued in
	QueuedAuditEvent event;
};

struct Drainer {
	Oid database; // InvalidOid: free
	int pid;
	Latch *latch;
};

struct Queue {
	LWLock *lock;
	uint64 next_sequence;
	Drainer drainers[kDrainers];
	Slot slots[kQueueSlots];
};

Queue *queue = nullptr; // in shared memory, or nullptr when not preloaded

void init_queue(void *memory) {
	auto *fresh = static_cast<Queue *>(memory);
	fresh->lock = &(GetNamedLWLockTranche(kTrancheName))->lock;
	fresh->next_sequence = 1;
}

const SharedStruct queue_memory{"tenant_backup audit queue", sizeof(Queue), kTrancheName, init_queue,
                                reinterpret_cast<void **>(&queue)};

// Takes the oldest event of `database` out of the queue; false if there is none.
bool take_one(Oid database, QueuedAuditEvent *out) {
	int oldest = -1;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (int i = 0; i < kQueueSlots; i++)
		if (queue->slots[i].sequence != 0 && queue->slots[i].event.database == database &&
		    (oldest < 0 || queue->slots[i].sequence < queue->slots[oldest].sequence))
			oldest = i;
	if (oldest >= 0) {
		memcpy(out, &queue->slots[oldest].event, sizeof(*out));
		queue->slots[oldest].sequence = 0;
	}
	LWLockRelease(queue->lock);
	return oldest >= 0;
}

// The scheduler exits: from now on its database's events take the fallback; those still queued
// would wait for no one, so they go to the server log.
void unregister_drainer(int, Datum) {
	bool others = false;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (auto &d : queue->drainers)
		if (d.pid == MyProcPid)
			d = Drainer{InvalidOid, 0, nullptr};
		else if (d.database == MyDatabaseId)
			others = true;
	LWLockRelease(queue->lock);
	QueuedAuditEvent event;
	while (!others && take_one(MyDatabaseId, &event))
		ereport(LOG, (errmsg("tenant_backup audit: NOT RECORDED in tenant_backup.backup_audit (the scheduler "
		                     "stopped): action=%s outcome=%s tenant=\"%s\" backup_id=%lld current_user=\"%s\" "
		                     "error=\"%s\"",
		                     event.action, event.outcome, event.tenant, static_cast<long long>(event.backup_id),
		                     event.current_user, event.error)));
}

} // namespace

void request_audit_queue_memory() {
	add_shared_struct(&queue_memory);
}

void register_audit_drainer() {
	if (!queue)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (auto &d : queue->drainers)
		if (d.database == InvalidOid) {
			d = Drainer{MyDatabaseId, MyProcPid, &MyProc->procLatch};
			break;
		}
	LWLockRelease(queue->lock);
	on_shmem_exit(unregister_drainer, 0);
}

QueueOutcome queue_audit_event(const QueuedAuditEvent &event) {
	if (!queue)
		return QueueOutcome::NoQueue;
	Latch *wake = nullptr;
	QueueOutcome outcome = QueueOutcome::Full;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (const auto &d : queue->drainers)
		if (d.database == event.database)
			wake = d.latch;
	if (!wake) {
		outcome = QueueOutcome::NoQueue;
	} else {
		for (auto &slot : queue->slots)
			if (slot.sequence == 0) {
				slot.sequence = queue->next_sequence++;
				memcpy(&slot.event, &event, sizeof(event));
				outcome = QueueOutcome::Queued;
				break;
			}
	}
	LWLockRelease(queue->lock);
	if (outcome == QueueOutcome::Queued)
		SetLatch(wake); // a scheduler that exits meanwhile leaves a latch that is still valid memory
	return outcome;
}

std::vector<QueuedAuditEvent> take_audit_events(Oid database, int max) {
	std::vector<QueuedAuditEvent> events;
	if (!queue)
		return events;
	std::vector<std::pair<uint64, int>> mine; // sequence, slot
	events.reserve(max);
	mine.reserve(kQueueSlots);
	// Within reserved capacity nothing below allocates or throws while the lock is held.
	pg_call([&] {
		LWLockAcquire(queue->lock, LW_EXCLUSIVE);
		for (int i = 0; i < kQueueSlots; i++)
			if (queue->slots[i].sequence != 0 && queue->slots[i].event.database == database)
				mine.emplace_back(queue->slots[i].sequence, i);
		std::sort(mine.begin(), mine.end());
		if (static_cast<int>(mine.size()) > max)
			mine.resize(max);
		for (const auto &entry : mine) {
			events.push_back(queue->slots[entry.second].event);
			queue->slots[entry.second].sequence = 0;
		}
		LWLockRelease(queue->lock);
	});
	return events;
}

} // namespace tb::pg
