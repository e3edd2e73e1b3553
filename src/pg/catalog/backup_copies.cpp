#include "pg/catalog/backup_copies.hpp"

#include "core/error.hpp"
#include "core/stream/sha256.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/registry.hpp"
#include "pg/repository/self_description.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/warnings.hpp"

#include <algorithm>

namespace tb::pg {

namespace {

std::vector<BackupCopy> all_copies(const StoredBackup &b) {
	AsExtensionOwner owner; // the catalog is the extension's own
	std::vector<BackupCopy> copies;
	for (const auto &r : spi_query("SELECT repository, object_name, state, coalesce(error, '') "
	                               "FROM tenant_backup.backup_copies WHERE backup_id = $1::bigint ORDER BY repository",
	                               {std::to_string(b.id)}))
		copies.push_back({*r[0], *r[1], *r[2], *r[3]});
	if (copies.empty() && b.has_archive)
		copies.push_back({b.repository.empty() ? kLocalRepository : b.repository, b.object_name, "stored", ""});
	return copies;
}

} // namespace

std::vector<BackupCopy> readable_copies(const StoredBackup &b) {
	std::vector<BackupCopy> copies = all_copies(b);
	copies.erase(std::remove_if(copies.begin(), copies.end(), [](const BackupCopy &c) { return c.state != "stored"; }),
	             copies.end());
	std::vector<std::string> layers = configured_repositories();
	auto rank = [&](const BackupCopy &c) -> size_t {
		if (c.repository == b.repository)
			return 0;
		auto it = std::find(layers.begin(), layers.end(), c.repository);
		return it == layers.end() ? layers.size() + 1 : static_cast<size_t>(it - layers.begin()) + 1;
	};
	std::stable_sort(copies.begin(), copies.end(),
	                 [&](const BackupCopy &x, const BackupCopy &y) { return rank(x) < rank(y); });
	return copies;
}

void mark_copy_missing(int64 backup_id, const std::string &repository, const std::string &reason) {
	AsExtensionOwner owner; // the catalog is the extension's own
	spi_query("UPDATE tenant_backup.backup_copies SET state = 'missing', error = $3 "
	          "WHERE backup_id = $1::bigint AND repository = $2 AND state = 'stored'",
	          {std::to_string(backup_id), repository, reason});
}

void remove_copies_at_commit(const StoredBackup &b, const char *reason) {
	for (const auto &c : all_copies(b)) {
		if (repository_read_only(c.repository)) {
			warn("tenant_backup: the copy of backup " + std::to_string(b.id) + " in repository \"" + c.repository +
			     "\" is left in place: the repository is registered read-only");
			continue;
		}
		// What outlives the archive: its tombstone (self_description.hpp), so that the archive and
		// its record, put back into the repository, are not attached as a backup (docs/FORMAT.md).
		std::optional<std::string> tombstone = backup_tombstone_body(b.id, c.object_name, reason);
		// The archive and its record (self_description.hpp) go together; an attached backup's
		// record is its source's as much as ours, and goes with the archive all the same.
		const std::string names[] = {c.object_name, record_name(c.object_name)};
		{
			AsExtensionOwner owner;
			for (const std::string &name : names)
				spi_query("INSERT INTO tenant_backup.removed_objects (repository, object_name, backup_id) "
				          "VALUES ($1, $2, $3::bigint) ON CONFLICT DO NOTHING",
				          {c.repository, name, std::to_string(b.id)});
		}
		std::shared_ptr<Storage> storage;
		try {
			storage = open_storage(c.repository);
			for (const std::string &name : names)
				remove_at_commit(storage, name);
		} catch (...) {
			std::optional<CopyFailure> failure = copy_failure(std::current_exception());
			if (!failure)
				throw;
			warn("tenant_backup: the copy of backup " + std::to_string(b.id) + " in repository \"" + c.repository +
			     "\" is not removed: " + failure->message);
		}
		if (tombstone)
			write_tombstone(c.repository, storage, tombstone_name(c.object_name), *tombstone); // or backup_sync()
	}
}

std::optional<CopyFailure> copy_failure(const std::exception_ptr &error) {
	try {
		std::rethrow_exception(error);
	} catch (const Error &e) {
		if (e.kind() == ErrorKind::Cancelled)
			return std::nullopt;
		return CopyFailure{e.what(), "", ERRCODE_IO_ERROR,
		                   e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::Corrupt};
	} catch (const SqlError &e) {
		return CopyFailure{e.what(), e.detail(), e.sqlstate(),
		                   e.sqlstate() == ERRCODE_UNDEFINED_FILE || e.sqlstate() == ERRCODE_DATA_CORRUPTED};
	} catch (...) {
		return std::nullopt;
	}
}

void confirm_size(Storage &storage, const std::string &name, uint64_t size) {
	uint64_t stored = storage.size(name);
	if (stored != size)
		throw Error(ErrorKind::Corrupt, storage.describe(name) + " holds " + std::to_string(stored) +
		                                    " bytes after it was stored, not " + std::to_string(size));
}

void copy_object(Storage &from, Storage &to, const std::string &name, const std::string &sha256, uint64_t size) {
	std::unique_ptr<Source> in = from.open_read(name);
	std::unique_ptr<WriteObject> out = to.open_write(name, temporary_tag());
	{
		HashingSink hashing(*out);
		std::vector<uint8_t> buf(1 << 20);
		while (size_t n = in->read(buf.data(), buf.size())) {
			hashing.write(buf.data(), n);
			pg_call([] { CHECK_FOR_INTERRUPTS(); });
		}
		hashing.finish();
		if (hashing.bytes() != size || hashing.hex_digest() != sha256)
			throw Error(ErrorKind::Corrupt, from.describe(name) + " does not hold the backup's archive: read " +
			                                    std::to_string(hashing.bytes()) + " bytes, expected " +
			                                    std::to_string(size) + " with its SHA-256");
	}
	out->publish();
	try {
		confirm_size(to, name, size);
	} catch (const Error &) {
		to.remove(name);
		throw;
	}
}

} // namespace tb::pg
