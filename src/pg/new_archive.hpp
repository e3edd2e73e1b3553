// A new backup's archive while it is written: a temporary object in each repository of
// tenant_backup.repositories, the SHA-256 and size of the stored bytes, and the archive writer
// (zstd, AES-256-GCM with the tenant's current data key, or a WARNING when no key is configured).
// Used by backup_create and backup_import.
//
// The same bytes go to every repository at once (TeeSink). The first repository holds the
// primary copy: its errors fail the backup, and it is published when the transaction commits.
// The others are off-site copies: one that fails is dropped (the backup goes on, and its copy
// row says 'missing' and why); one that succeeds is published at finish(), confirmed by size
// (S3 also checks the ETag), and removed again if the transaction aborts.
#pragma once
#include "core/archive/archive_writer.hpp"
#include "core/storage/storage.hpp"
#include "core/stream/sha256.hpp"
#include "core/stream/tee_sink.hpp"
#include "pg/catalog.hpp"

#include <memory>
#include <vector>

namespace tb::pg {

class NewArchive {
public:
	// Takes backup.id, tenant, created_at and snapshot_at; sets object_name, location,
	// compression and key_generation, and writes the archive header.
	NewArchive(NewBackup &backup, bool background);
	archive::ArchiveWriter &writer() { return *writer_; }
	// Finishes and fsyncs the archive, sets backup.sha256 and size_bytes, publishes the off-site
	// copies and records every copy's outcome in backup.copies.
	void finish(NewBackup &backup);
	// Hands the archive over to be renamed into place at commit (removed on abort).
	void publish_at_commit();

private:
	struct OffsiteCopy {
		std::string repository;
		std::shared_ptr<Storage> storage;
		std::unique_ptr<WriteObject> object;
		size_t branch = 0;
		std::string error; // set once it failed
	};
	// Declared in the order they are built: destroyed writer first, storage last.
	std::shared_ptr<Storage> storage_;
	std::unique_ptr<WriteObject> object_;
	std::vector<OffsiteCopy> offsite_;
	std::unique_ptr<TeeSink> tee_;
	std::unique_ptr<HashingSink> hashing_;
	std::unique_ptr<archive::ArchiveWriter> writer_;
};

} // namespace tb::pg
