// Rows of tenant_backup.backups, read and written through SPI (SPI must be connected).
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

struct TableSummary {
	std::string schema, name, tenant_column;
	uint64 rows = 0;
	std::vector<std::pair<std::string, std::string>> columns; // name, type
};

// One copy of a new backup's archive, for tenant_backup.backup_copies.
struct NewCopy {
	std::string repository, location;
	bool stored = false;
	std::string error; // why it is missing
};

// Where a backup read its tenant's rows (unchanged_rows.hpp): the xmin of its snapshot as a
// 64-bit transaction id, the cluster, and the WAL timeline and position then.
struct BackupReadHorizon {
	uint64 xmin = 0;
	std::string system_identifier;
	uint32 timeline = 0;
	uint64 lsn = 0;
};

struct NewBackup {
	int64 id = 0;
	std::string tenant;
	std::string kind = "manual";       // or "imported", "auto" (scheduled), "pre_restore" (issue 21)
	bool replaces_running_row = false; // a scheduled job's: its 'running' row of this id becomes this
	std::optional<std::string> label;
	TimestampTz created_at = 0, snapshot_at = 0;
	std::optional<std::string> claimed; // JSON: what an imported document claimed (label, snapshot)
	std::vector<TableSummary> tables;
	uint64 rows = 0, size_bytes = 0;
	std::string sha256, compression, object_name, location;
	uint32_t key_generation = 0;                   // 0: not encrypted
	std::string repository = "local";              // where the primary copy is
	std::vector<NewCopy> copies;                   // every copy, the primary first (object_name in each)
	std::optional<BackupReadHorizon> read_horizon; // (unchanged_rows.hpp)
};

struct StoredBackup {
	int64 id = 0;
	std::string tenant, status, sha256, object_name, error;
	std::string repository; // of the primary copy
	int64 size_bytes = 0;
	bool has_archive = false; // sha256, size and object name are set
	// An attached backup (backup_attach): the id its archive was written under, and the local
	// generation of its data key (its archive names the generation of the database that took it).
	std::optional<int64> original_id;
	uint32_t key_generation = 0;
	std::optional<BackupReadHorizon> read_horizon; // where recorded
};

// SPI_connect / SPI_finish around a SQL function's work. On error the transaction abort cleans up.
void spi_begin();
void spi_end();

int64 next_backup_id();
// Inserts the backups row and its rows of tenant_backup.backup_copies.
void insert_completed_backup(const NewBackup &backup);
// The backups row, or nullopt. lock: FOR UPDATE on it, as actions that change or delete it want
// (restore, delete). Readers (download, export, verify) pass false: a row lock is refused in a
// read-only transaction and on a standby; they hold the tenant's shared lock instead (see
// find_permitted_backup).
std::optional<StoredBackup> find_backup(int64 id, bool lock);
// Throws a clear error if the backup does not exist.
StoredBackup load_backup(int64 id, bool lock = true);
// load_backup, refusing a backup that is not completed; `action` completes "cannot be ...".
StoredBackup load_completed_backup(int64 id, const char *action);
// Refuses a backup that is not completed, as load_completed_backup does.
void require_completed(const StoredBackup &backup, const char *action);
void delete_backup_row(int64 id);

// A string as a JSON string literal (PostgreSQL's escape_json).
std::string quote_json(const std::string &s);
// JSON of a table list, as stored in backups.tables (built with PostgreSQL's escape_json).
std::string tables_json(const std::vector<TableSummary> &tables);
// JSON object of string fields, for the archive header.
std::string json_object(const std::vector<std::pair<std::string, std::string>> &fields);

// Per-tenant lock: restores and deletes take it exclusively, backups shared (transaction-scoped).
void lock_tenant(const std::string &tenant, bool exclusive);

// Marks backup `id` as being written by this transaction (a shared, transaction-scoped lock):
// taken before any object of the backup is created, so that backup_sync never takes the objects
// of a backup still being written, or stored, for leftovers.
void lock_backup_writing(int64 id);
// Whether some other transaction is writing objects of backup `id` now (false also when only this
// transaction is). Probes without waiting and keeps nothing.
bool backup_being_written(int64 id);

// Longest tenant value and label our functions take.
constexpr size_t kMaxTenantBytes = 1024;
constexpr size_t kMaxLabelBytes = 1024;

} // namespace tb::pg
