// Opening a backup's stored archive for reading: checksum first, then a reader bound to the
// backup's id, tenant and keys.
#pragma once
#include "core/archive/archive_reader.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/backup_lookup.hpp"
#include "pg/catalog/catalog.hpp"

#include <memory>

namespace tb::pg {

// Refuses unless the stored archive exists and has the size and SHA-256 the catalog recorded;
// `consequence` ends the message (e.g. "nothing was restored").
void check_stored_archive(Storage &storage, const StoredBackup &backup, const char *consequence);

// The first copy of the backup that passes check_stored_archive, in the order of readable_copies:
// a copy that is missing, fails its checksum or cannot be read is skipped with a WARNING naming
// it, and the next one is tried. If none passes, the error of the only copy, or one naming every
// copy's problem. The storage and object name of the copy are returned.
struct CheckedCopy {
	std::shared_ptr<Storage> storage;
	std::string repository, object_name;
};
CheckedCopy open_checked_copy(const StoredBackup &backup, const char *consequence);

// Reader options for the backup's archive: its id and tenant bind the chunks; keys come from
// tenant_backup.tenant_keys through the configured master key.
archive::ReaderOptions reader_options(const StoredBackup &backup);

// A completed backup the caller may act on: found with `permission` required on it (see
// find_permitted_backup: denials tell a role without grants on the tenant nothing), its tenant
// set on the audited action, refused unless completed (`action` completes "cannot be ...").
StoredBackup authorize_backup(int64 id, const char *action, const char *permission, AuditedAction &audit,
                              BackupHold hold = BackupHold::RowLock);

// A backup opened for reading: the tenant locked (exclusively when `exclusive`), the first healthy
// copy of its archive found (see open_checked_copy), and a reader at its start.
struct OpenedBackup {
	StoredBackup backup;
	std::shared_ptr<Storage> storage;
	std::unique_ptr<archive::ArchiveReader> reader;
};
OpenedBackup open_backup(const StoredBackup &backup, const char *consequence, bool exclusive);

} // namespace tb::pg
