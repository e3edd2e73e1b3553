#include "pg/catalog/permissions.hpp"
#include "pg/archive/archive_access.hpp"

#include "core/error.hpp"
#include "core/stream/sha256.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/keys.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/repository/registry.hpp"

namespace tb::pg {

void check_stored_archive(Storage &storage, const StoredBackup &b, const char *consequence) {
	std::string id = std::to_string(b.id);
	if (!b.has_archive)
		throw SqlError(ERRCODE_DATA_CORRUPTED, "backup " + id + " has no archive recorded; " + consequence);
	if (awaiting_publication(b.object_name))
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "backup " + id +
		                   " was created in this transaction; its archive can be read once the "
		                   "transaction commits");
	if (!storage.exists(b.object_name))
		throw SqlError(ERRCODE_UNDEFINED_FILE, "archive of backup " + id + " is missing: " +
		                                           storage.describe(b.object_name) + "; " + consequence);
	uint64 size = 0;
	std::unique_ptr<Source> in = storage.open_read(b.object_name);
	std::string sha = sha256_of(*in, &size);
	if (sha != b.sha256 || static_cast<int64>(size) != b.size_bytes)
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + id + " failed its SHA-256 check; " + consequence,
		               "Expected " + std::to_string(b.size_bytes) + " bytes with SHA-256 " + b.sha256 + ", found " +
		                   std::to_string(size) + " bytes with SHA-256 " + sha + " in " +
		                   storage.describe(b.object_name) + ".");
}

CheckedCopy open_checked_copy(const StoredBackup &b, const char *consequence) {
	std::string id = std::to_string(b.id);
	if (!b.has_archive)
		throw SqlError(ERRCODE_DATA_CORRUPTED, "backup " + id + " has no archive recorded; " + consequence);
	std::vector<BackupCopy> copies = readable_copies(b);
	if (copies.empty())
		throw SqlError(ERRCODE_UNDEFINED_FILE, "backup " + id + " has no stored copy; " + consequence, "",
		               "tenant_backup.backup_copies says why each copy is missing.");
	std::string problems;
	int first_code = 0;
	for (size_t i = 0; i < copies.size(); i++) {
		const BackupCopy &c = copies[i];
		StoredBackup copy = b;
		copy.object_name = c.object_name;
		std::string problem;
		int code = ERRCODE_IO_ERROR;
		bool gone = false;
		try {
			std::shared_ptr<Storage> storage = open_storage(c.repository);
			check_stored_archive(*storage, copy, copies.size() == 1 ? consequence : "the copy is skipped");
			if (i > 0)
				warn("backup " + id + " is read from its copy in repository \"" + c.repository + "\"");
			return {storage, c.repository, c.object_name};
		} catch (...) {
			std::optional<CopyFailure> failure = copy_failure(std::current_exception());
			if (!failure || copies.size() == 1 || failure->sqlstate == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE)
				throw; // one copy: its own error, as always; created in this transaction: no copy is readable yet
			problem = failure->message + (failure->detail.empty() ? "" : " (" + failure->detail + ")");
			code = failure->sqlstate;
			gone = failure->gone;
		}
		// A copy that is absent or altered is so for good: the catalog says so from now on. One
		// that could not be reached (an endpoint down, a timeout) may be fine tomorrow.
		if (gone)
			mark_copy_missing(b.id, c.repository, problem);
		warn("the copy of backup " + id + " in repository \"" + c.repository + "\" is unusable: " + problem);
		problems += (problems.empty() ? "" : "; ") + c.repository + ": " + problem;
		if (!first_code)
			first_code = code;
	}
	throw SqlError(first_code, "no copy of backup " + id + " is usable; " + consequence, problems);
}

archive::ReaderOptions reader_options(const StoredBackup &b) {
	archive::ReaderOptions options;
	// An attached backup's archive was written under its original id and the original database's
	// key generation; its data key is kept here under a local generation (backup_attach).
	options.backup_id = static_cast<uint64_t>(b.original_id.value_or(b.id));
	options.tenant = b.tenant;
	std::string tenant = b.tenant;
	int64 id = b.id;
	uint32_t local_generation = b.original_id ? b.key_generation : 0;
	options.key_for = [tenant, id, local_generation](uint32_t generation) {
		return data_key(tenant, local_generation ? local_generation : generation, id);
	};
	return options;
}

StoredBackup authorize_backup(int64 id, const char *action, const char *permission, AuditedAction &audit,
                              BackupHold hold) {
	// The permission before the status: a failed backup's error is for those who may act on it.
	StoredBackup backup = find_permitted_backup(id, permission, audit, hold);
	require_completed(backup, action);
	return backup;
}

OpenedBackup open_backup(const StoredBackup &backup, const char *consequence, bool exclusive) {
	OpenedBackup b;
	b.backup = backup;
	lock_tenant(b.backup.tenant, exclusive);
	CheckedCopy copy = open_checked_copy(b.backup, consequence);
	b.storage = copy.storage;
	b.backup.object_name = copy.object_name;
	// The reader authenticates every chunk against this backup's id and tenant.
	b.reader =
	    std::make_unique<archive::ArchiveReader>(b.storage->open_read(b.backup.object_name), reader_options(b.backup));
	return b;
}

} // namespace tb::pg
