// A new backup's archive while it is written: a temporary object in the repository, the SHA-256
// and size of the stored bytes, and the archive writer (zstd, AES-256-GCM with the tenant's
// current data key, or a WARNING when no key is configured). Used by backup_create and
// backup_import; the archive is renamed into place when the transaction commits.
#pragma once
#include "core/archive/archive_writer.hpp"
#include "core/storage/storage.hpp"
#include "core/stream/sha256.hpp"
#include "pg/catalog.hpp"

#include <memory>

namespace tb::pg {

class NewArchive {
public:
	// Takes backup.id, tenant, created_at and snapshot_at; sets object_name, location,
	// compression and key_generation, and writes the archive header.
	NewArchive(NewBackup &backup, bool background);
	archive::ArchiveWriter &writer() { return *writer_; }
	// Finishes and fsyncs the archive, sets backup.sha256 and size_bytes.
	void finish(NewBackup &backup);
	// Hands the archive over to be renamed into place at commit (removed on abort).
	void publish_at_commit();

private:
	std::unique_ptr<Storage> storage_;
	std::unique_ptr<WriteObject> object_;
	std::unique_ptr<HashingSink> hashing_;
	std::unique_ptr<archive::ArchiveWriter> writer_;
};

} // namespace tb::pg
