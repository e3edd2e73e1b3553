// A new backup's archive while it is written: a temporary object in each repository of
// tenant_backup.repositories, the SHA-256 and size of the stored bytes, and the archive writer
// (zstd, AES-256-GCM with the tenant's current data key; without a configured key, what
// tenant_backup.unencrypted_backups says: a WARNING once per session, nothing, or a refusal).
// Used by backup_create, backup_import and scheduled backups.
//
// The same bytes go to every repository at once (TeeSink). A repository that cannot be opened or
// fails while written, or whose copy cannot be published, is dropped and its copy recorded
// 'missing' with the reason; the backup fails only when no copy could be stored. A copy whose
// publication needs a network (S3) is published at finish(), confirmed by size (and ETag), and
// removed again if the transaction aborts; a local file is renamed into place when the
// transaction commits, so that a crash before then leaves only a temporary file, which the next
// backup removes. The first repository of the list that holds a copy has the primary one
// (backups.repository). So a failing off-site layer never costs the local copy, whatever the
// order of the list, and a failing local disk never costs the off-site one.
#pragma once
#include "core/archive/archive_writer.hpp"
#include "core/storage/storage.hpp"
#include "core/stream/sha256.hpp"
#include "core/stream/tee_sink.hpp"
#include "pg/catalog/catalog.hpp"

#include <memory>
#include <vector>

namespace tb::pg {

class NewArchive {
public:
	// Takes backup.id, tenant, created_at and snapshot_at; sets object_name, location,
	// compression and key_generation, and writes the archive header.
	NewArchive(NewBackup &backup, bool background);
	archive::ArchiveWriter &writer() { return *writer_; }
	// Finishes and fsyncs the archive, sets backup.sha256 and size_bytes, publishes the copies
	// that need a network, chooses the primary copy (backup.repository and location) and records
	// every copy's outcome in backup.copies. Throws when no copy could be stored.
	void finish(NewBackup &backup);
	// Hands the local copies over to be renamed into place at commit (removed on abort).
	void publish_at_commit();
	// tenant_backup.unencrypted_backups for a schedule being set while no key is configured: a
	// WARNING that its backups will be refused (refuse), or unencrypted (warn: once per session,
	// shared with the backups' warning).
	static void warn_for_schedule();

private:
	struct Target {
		std::string repository;
		std::shared_ptr<Storage> storage;
		std::unique_ptr<WriteObject> object;
		size_t branch = 0;
		std::string error;      // why it could not be opened
		bool at_commit = false; // a local copy, published when the transaction commits
	};
	bool usable(const Target &t) const { return t.object && !tee_->failed(t.branch); }
	// Declared in the order they are built: destroyed writer first, storage last.
	std::vector<Target> targets_;
	std::unique_ptr<TeeSink> tee_;
	std::unique_ptr<HashingSink> hashing_;
	std::unique_ptr<archive::ArchiveWriter> writer_;
	bool unencrypted_ = false;
};

} // namespace tb::pg
