#include "pg/shared_memory/progress.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/shared_memory/shared_memory.hpp"

extern "C" {
#include "mb/pg_wchar.h"
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
	Oid database;
	int64 backup_id;
	TimestampTz started_at;
	int tables_done, tables_total;
	int64 rows_done, bytes_done;
	// Whole for every tenant a SQL function takes; a longer one (from a tenant registry, for a
	// scheduled backup, which has a catalog row) is clipped at a character boundary.
	char tenant[kMaxTenantBytes + 1];
	bool tenant_clipped;
	char kind[16];
	char table[2 * NAMEDATALEN + 2];
	char phase[32];
	int64 job_id;
	Oid requested_by;
};

ProgressSlot *slots = nullptr; // in shared memory, or nullptr when not preloaded
ProgressSlot *mine = nullptr;  // this backend's slot while a backup runs
int64 current_job_id = 0;      // ProgressJob's
Oid current_job_requester = InvalidOid;

void init_slots(void *memory) {
	auto *fresh = static_cast<ProgressSlot *>(memory);
	for (int i = 0; i < kSlots; i++)
		SpinLockInit(&fresh[i].mutex);
}

const SharedStruct progress_memory{"tenant_backup progress", sizeof(ProgressSlot) * kSlots, nullptr, init_slots,
                                   reinterpret_cast<void **>(&slots)};

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

bool copy_text(char *to, size_t size, const std::string &from) {
	return copy_clipped(to, size, from.data(), from.size());
}

} // namespace

void request_progress_memory() {
	add_shared_struct(&progress_memory);
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
	Oid database = pg_eval([] { return MyDatabaseId; });
	ProgressSlot filled; // prepared outside the spinlock (clipping calls PostgreSQL)
	filled.tenant_clipped = pg_eval([&] { return copy_text(filled.tenant, sizeof(filled.tenant), tenant); });
	pg_call([&] { copy_text(filled.kind, sizeof(filled.kind), kind); });
	for (int i = 0; i < kSlots && !mine; i++) {
		ProgressSlot *slot = &slots[i];
		SpinLockAcquire(&slot->mutex);
		if (slot->pid == 0) {
			slot->pid = MyProcPid;
			slot->database = database;
			slot->backup_id = backup_id;
			slot->started_at = now;
			slot->tables_done = 0;
			slot->tables_total = tables_total;
			slot->rows_done = slot->bytes_done = 0;
			memcpy(slot->tenant, filled.tenant, sizeof(slot->tenant));
			slot->tenant_clipped = filled.tenant_clipped;
			memcpy(slot->kind, filled.kind, sizeof(slot->kind));
			slot->table[0] = '\0';
			slot->phase[0] = '\0';
			slot->job_id = current_job_id;
			slot->requested_by = current_job_requester;
			mine = slot;
			owns_ = true;
		}
		SpinLockRelease(&slot->mutex);
	}
}

BackupProgress::~BackupProgress() {
	if (owns_)
		release_slot();
}

void BackupProgress::reset_counts() {
	if (!owns_)
		return;
	SpinLockAcquire(&mine->mutex);
	mine->rows_done = mine->bytes_done = 0;
	SpinLockRelease(&mine->mutex);
}

void BackupProgress::table(const std::string &name) {
	if (!owns_)
		return;
	char text[sizeof(mine->table)];
	pg_call([&] { copy_text(text, sizeof(text), name); });
	SpinLockAcquire(&mine->mutex);
	if (mine->table[0])
		mine->tables_done++;
	memcpy(mine->table, text, sizeof(text));
	SpinLockRelease(&mine->mutex);
}

void BackupProgress::phase(const char *name) {
	if (!owns_)
		return;
	char text[sizeof(mine->phase)];
	strlcpy(text, name, sizeof(text)); // ASCII names of ours
	SpinLockAcquire(&mine->mutex);
	memcpy(mine->phase, text, sizeof(text));
	SpinLockRelease(&mine->mutex);
}

void BackupProgress::set_tables_total(int total) {
	if (!owns_)
		return;
	SpinLockAcquire(&mine->mutex);
	mine->tables_total = total;
	SpinLockRelease(&mine->mutex);
}

void BackupProgress::tables_finished() {
	if (!owns_)
		return;
	SpinLockAcquire(&mine->mutex);
	if (mine->table[0] && mine->tables_done < mine->tables_total)
		mine->tables_done++;
	SpinLockRelease(&mine->mutex);
}

ProgressJob::ProgressJob(int64 job_id, Oid requested_by) {
	current_job_id = job_id;
	current_job_requester = requested_by;
}

ProgressJob::~ProgressJob() {
	current_job_id = 0;
	current_job_requester = InvalidOid;
}

void progress_add(uint64 rows, uint64 bytes) {
	if (!mine)
		return;
	SpinLockAcquire(&mine->mutex);
	mine->rows_done += static_cast<int64>(rows);
	mine->bytes_done += static_cast<int64>(bytes);
	SpinLockRelease(&mine->mutex);
}

bool progress_available() {
	return slots != nullptr;
}

std::vector<RunningBackup> running_backups(Oid database) {
	std::vector<RunningBackup> out;
	for (int i = 0; slots && i < kSlots; i++) {
		ProgressSlot copy;
		SpinLockAcquire(&slots[i].mutex);
		copy = slots[i];
		SpinLockRelease(&slots[i].mutex);
		if (copy.pid == 0 || copy.database != database)
			continue;
		out.push_back({copy.pid, copy.backup_id, copy.started_at, copy.tables_done, copy.tables_total, copy.rows_done,
		               copy.bytes_done, std::string(copy.tenant), copy.tenant_clipped, std::string(copy.kind),
		               std::string(copy.table), std::string(copy.phase), copy.job_id, copy.requested_by});
	}
	return out;
}

} // namespace tb::pg
