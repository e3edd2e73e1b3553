#include "pg/progress.hpp"

#include "pg/guard.hpp"
#include "pg/srf_rows.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
}

namespace tb::pg {

namespace {

constexpr int kSlots = 128; // backups running at once that show; more run, unseen

struct ProgressSlot {
	slock_t mutex;
	int pid; // 0: free
	int64 backup_id;
	TimestampTz started_at;
	int tables_done, tables_total;
	int64 rows_done, bytes_done;
	char tenant[128]; // truncated: tenants may be longer
	char kind[16];
	char table[2 * NAMEDATALEN + 2];
};

ProgressSlot *slots = nullptr; // in shared memory, or nullptr when not preloaded
ProgressSlot *mine = nullptr;  // this backend's slot while a backup runs
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

Size memory_size() {
	return mul_size(sizeof(ProgressSlot), kSlots);
}

void request_memory() {
	if (previous_request_hook)
		previous_request_hook();
	RequestAddinShmemSpace(memory_size());
}

void attach_memory() {
	if (previous_startup_hook)
		previous_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found;
	slots = static_cast<ProgressSlot *>(ShmemInitStruct("tenant_backup progress", memory_size(), &found));
	if (!found) {
		memset(slots, 0, memory_size());
		for (int i = 0; i < kSlots; i++)
			SpinLockInit(&slots[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void release_slot() {
	if (!mine)
		return;
	SpinLockAcquire(&mine->mutex);
	mine->pid = 0;
	SpinLockRelease(&mine->mutex);
	mine = nullptr;
}

void release_at_exit(int, Datum) {
	release_slot(); // a FATAL error exits without unwinding BackupProgress
}

void copy_text(char *to, size_t size, const std::string &from) {
	size_t n = std::min(from.size(), size - 1);
	memcpy(to, from.data(), n);
	to[n] = '\0';
}

} // namespace

void request_progress_memory() {
	previous_request_hook = shmem_request_hook;
	shmem_request_hook = request_memory;
	previous_startup_hook = shmem_startup_hook;
	shmem_startup_hook = attach_memory;
}

BackupProgress::BackupProgress(int64 backup_id, const std::string &tenant, const std::string &kind, int tables_total) {
	if (!slots || mine)
		return;
	static bool exit_callback = false;
	if (!exit_callback) {
		pg_call([] { before_shmem_exit(release_at_exit, 0); });
		exit_callback = true;
	}
	TimestampTz now = pg_eval([] { return GetCurrentTimestamp(); });
	for (int i = 0; i < kSlots && !mine; i++) {
		ProgressSlot *slot = &slots[i];
		SpinLockAcquire(&slot->mutex);
		if (slot->pid == 0) {
			slot->pid = MyProcPid;
			slot->backup_id = backup_id;
			slot->started_at = now;
			slot->tables_done = 0;
			slot->tables_total = tables_total;
			slot->rows_done = slot->bytes_done = 0;
			copy_text(slot->tenant, sizeof(slot->tenant), tenant);
			copy_text(slot->kind, sizeof(slot->kind), kind);
			slot->table[0] = '\0';
			mine = slot;
		}
		SpinLockRelease(&slot->mutex);
	}
}

BackupProgress::~BackupProgress() {
	release_slot();
}

void BackupProgress::table(const std::string &name) {
	if (!mine)
		return;
	SpinLockAcquire(&mine->mutex);
	if (mine->table[0])
		mine->tables_done++;
	copy_text(mine->table, sizeof(mine->table), name);
	SpinLockRelease(&mine->mutex);
}

void progress_add(uint64 rows, uint64 bytes) {
	if (!mine)
		return;
	SpinLockAcquire(&mine->mutex);
	mine->rows_done += static_cast<int64>(rows);
	mine->bytes_done += static_cast<int64>(bytes);
	SpinLockRelease(&mine->mutex);
}

} // namespace tb::pg

using namespace tb::pg;

// tenant_backup._backup_progress(): the slots in use (the view filters by backup.view).
TB_SQL_FUNCTION(tenant_backup_progress) {
	SrfRows out(fcinfo);
	for (int i = 0; slots && i < kSlots; i++) {
		ProgressSlot copy;
		SpinLockAcquire(&slots[i].mutex);
		copy = slots[i];
		SpinLockRelease(&slots[i].mutex);
		if (copy.pid == 0)
			continue;
		TimestampTz started = copy.started_at;
		const char *started_text = pg_eval([started] { return timestamptz_to_str(started); });
		out.add({std::to_string(copy.pid), std::to_string(copy.backup_id), std::string(copy.tenant),
		         std::string(copy.kind), std::string(started_text), std::to_string(copy.tables_done),
		         std::to_string(copy.tables_total), copy.table[0] ? SqlValue(copy.table) : std::nullopt,
		         std::to_string(copy.rows_done), std::to_string(copy.bytes_done)});
	}
	return 0;
}
