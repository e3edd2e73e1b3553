// The copies of a backup's archive, one row each in tenant_backup.backup_copies: the primary
// copy (the repository backups.repository names) and one per further repository the backup was
// configured to reach, 'stored' once the object was confirmed with the backup's size and SHA-256,
// or 'missing' with the reason. Needs SPI connected.
#pragma once
#include "core/storage/storage.hpp"
#include "pg/catalog/catalog.hpp"

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

struct BackupCopy {
	std::string repository, object_name, state, error;
};

// The backup's copies in the order they are read: stored copies only, the primary first, then in
// the order of tenant_backup.repositories, then by name. A backup without copy rows has its primary.
std::vector<BackupCopy> readable_copies(const StoredBackup &backup);

// Records that a copy the catalog called 'stored' is not there or not intact (found by a reader
// or by backup_sync), so that readers skip it and backup_sync() stores it again. In the caller's
// transaction: a restore that fails and rolls back takes the mark back with it.
void mark_copy_missing(int64 backup_id, const std::string &repository, const std::string &reason);

// Registers the removal of every copy of the backup when the transaction commits, and records
// each in tenant_backup.removed_objects, so that backup_sync() removes what could not be removed
// then. Call it before deleting the backups row (which deletes the copy rows with it). A
// repository that cannot be opened is reported in a WARNING. A completed backup leaves a tombstone
// beside each copy (self_description.hpp), naming the reason (backup_delete, retention, ...).
void remove_copies_at_commit(const StoredBackup &backup, const char *reason);

// Streams object `name` from one storage into another, hashing on the way; publishes it only if
// the bytes read have the expected size and SHA-256, then confirms the stored size. Throws
// tb::Error (Corrupt on a mismatch, the storage's own error otherwise).
void copy_object(Storage &from, Storage &to, const std::string &name, const std::string &sha256, uint64_t size);

// Throws Corrupt unless the stored object has this size (after a publish).
void confirm_size(Storage &storage, const std::string &name, uint64_t size);

// What went wrong with one copy, when an error is a failure of that copy only.
struct CopyFailure {
	std::string message, detail;
	int sqlstate = 0;  // as a SqlError's (a storage error: io_error)
	bool gone = false; // the object is absent or altered: so for good, not merely out of reach now
};

// The one rule for telling "a copy failed" from "the call failed": a storage error (tb::Error:
// an endpoint down, refused credentials, a missing or damaged object) or a SqlError of ours
// (no such repository, a repository that cannot be opened, a failed check) is a failure of that
// copy, which the caller records and goes on past with the other copies; a cancel (the core's
// Cancelled), a PostgreSQL error and anything else fail the call (nullopt: rethrow it).
std::optional<CopyFailure> copy_failure(const std::exception_ptr &error);

// Runs fn; returns "" when it succeeds, the message of a failure of one copy (copy_failure) when
// it fails so, and rethrows anything else.
template <typename F> std::string error_of(F &&fn) {
	try {
		fn();
		return "";
	} catch (...) {
		std::optional<CopyFailure> failure = copy_failure(std::current_exception());
		if (!failure)
			throw;
		return failure->message;
	}
}

} // namespace tb::pg
