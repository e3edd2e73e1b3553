#include "pg/permissions.hpp"
#include "pg/archive_access.hpp"

#include "core/stream/sha256.hpp"
#include "pg/guard.hpp"
#include "pg/keys.hpp"
#include "pg/pending_objects.hpp"
#include "pg/repository.hpp"

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

archive::ReaderOptions reader_options(const StoredBackup &b) {
	archive::ReaderOptions options;
	options.backup_id = static_cast<uint64_t>(b.id);
	options.tenant = b.tenant;
	std::string tenant = b.tenant;
	int64 id = b.id;
	options.key_for = [tenant, id](uint32_t generation) { return data_key(tenant, generation, id); };
	return options;
}

StoredBackup authorize_backup(int64 id, const char *action, const char *permission, AuditedAction &audit) {
	StoredBackup backup = load_completed_backup(id, action);
	audit.set_tenant(backup.tenant);
	require_permission(permission, backup.tenant, id, audit.action());
	return backup;
}

OpenedBackup open_backup(const StoredBackup &backup, const char *consequence, bool exclusive) {
	OpenedBackup b;
	b.backup = backup;
	lock_tenant(b.backup.tenant, exclusive);
	b.storage = open_repository();
	check_stored_archive(*b.storage, b.backup, consequence);
	// The reader authenticates every chunk against this backup's id and tenant.
	b.reader =
	    std::make_unique<archive::ArchiveReader>(b.storage->open_read(b.backup.object_name), reader_options(b.backup));
	return b;
}

} // namespace tb::pg
