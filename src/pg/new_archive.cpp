#include "pg/new_archive.hpp"

#include "core/error.hpp"
#include "pg/backup_copies.hpp"
#include "pg/guard.hpp"
#include "pg/keys.hpp"
#include "pg/pending_objects.hpp"
#include "pg/repositories.hpp"
#include "pg/repository.hpp"
#include "pg/settings.hpp"

namespace tb::pg {

namespace {
std::string timestamp_text(TimestampTz t) {
	return pg_eval([t] { return static_cast<const char *>(timestamptz_to_str(t)); });
}

void warn_missing_copy(int64 id, const std::string &repository, const std::string &error) {
	std::string msg = "backup " + std::to_string(id) + " has no copy in repository \"" + repository + "\": " + error;
	const char *m = msg.c_str();
	pg_call([m] {
		ereport(WARNING, (errmsg("%s", m), errhint("tenant_backup.backup_sync() stores the missing copies later.")));
	});
}
} // namespace

NewArchive::NewArchive(NewBackup &backup, bool background) {
	std::vector<std::string> repositories = configured_repositories();
	backup.repository = repositories[0];
	storage_ = open_storage(backup.repository);
	remove_stale_temporaries(*storage_);
	backup.object_name = new_archive_name(backup.id);
	backup.location = storage_->describe(backup.object_name);
	backup.copies.clear();
	for (size_t i = 1; i < repositories.size(); i++) {
		OffsiteCopy c;
		c.repository = repositories[i];
		try {
			c.storage = open_storage(c.repository);
		} catch (const SqlError &e) {
			c.error = e.what(); // e.g. no credentials: the primary copy goes on
		}
		offsite_.push_back(std::move(c));
	}
	int level = setting_compression_level();
	backup.compression = level > 0 ? "zstd" : "none";
	std::optional<DataKey> key = current_data_key(backup.tenant);
	if (!key) {
		std::string msg = "backup " + std::to_string(backup.id) + " of tenant \"" + backup.tenant +
		                  "\" is not encrypted: no encryption key is configured";
		const char *m = msg.c_str();
		pg_call([m] {
			ereport(WARNING, (errmsg("%s", m), errhint("Set tenant_backup.encryption_key_file or "
			                                           "tenant_backup.encryption_key_command to encrypt backups.")));
		});
	}
	backup.key_generation = key ? key->generation : 0;
	archive::WriterOptions options;
	options.backup_id = static_cast<uint64_t>(backup.id);
	options.tenant = backup.tenant;
	options.compression_level = level;
	if (key)
		options.key = key->key;
	options.key_generation = backup.key_generation;
	options.background = background;

	object_ = storage_->open_write(backup.object_name, temporary_tag());
	tee_ = std::make_unique<TeeSink>(*object_);
	for (auto &c : offsite_) {
		if (!c.error.empty())
			continue;
		try {
			remove_stale_temporaries(*c.storage);
			c.object = c.storage->open_write(backup.object_name, temporary_tag());
			c.branch = tee_->add_optional(*c.object);
		} catch (const Error &e) {
			c.error = e.what();
		}
	}
	hashing_ = std::make_unique<HashingSink>(*tee_);
	writer_ = std::make_unique<archive::ArchiveWriter>(*hashing_, options);
	std::string server_version =
	    pg_eval([] { return static_cast<const char *>(GetConfigOption("server_version", false, false)); });
	writer_->begin(json_object({{"backup_id", std::to_string(backup.id)},
	                            {"tenant", backup.tenant},
	                            {"created_at", timestamp_text(backup.created_at)},
	                            {"snapshot_at", timestamp_text(backup.snapshot_at)},
	                            {"server_version", server_version}}));
}

void NewArchive::finish(NewBackup &backup) {
	writer_->finish(); // flushes the chain and fsyncs the temporary file
	backup.sha256 = hashing_->hex_digest();
	backup.size_bytes = hashing_->bytes();
	backup.copies.push_back({backup.repository, backup.location, true, ""});
	for (auto &c : offsite_) {
		NewCopy copy{c.repository, c.storage ? c.storage->describe(backup.object_name) : "", false, c.error};
		if (copy.error.empty() && tee_->failed(c.branch))
			copy.error = tee_->error(c.branch);
		if (copy.error.empty()) {
			bool published = false;
			try {
				c.object->publish(); // S3: completes the upload, then a HEAD checks size and ETag
				published = true;
				remove_at_abort(c.storage, backup.object_name);
				confirm_size(*c.storage, backup.object_name, backup.size_bytes);
				copy.stored = true;
			} catch (const Error &e) {
				copy.error = e.what();
				if (published) {
					try {
						c.storage->remove(backup.object_name);
					} catch (const Error &) {
						// removed on abort, or found by backup_repository_check
					}
				}
			}
		}
		c.object.reset(); // an unpublished S3 upload is aborted here
		if (!copy.stored)
			warn_missing_copy(backup.id, c.repository, copy.error);
		backup.copies.push_back(std::move(copy));
	}
}

void NewArchive::publish_at_commit() {
	writer_.reset();
	hashing_.reset();
	tee_.reset();
	offsite_.clear();
	pg::publish_at_commit(storage_, std::move(object_));
}

} // namespace tb::pg
