#include "pg/new_archive.hpp"

#include "pg/guard.hpp"
#include "pg/keys.hpp"
#include "pg/pending_objects.hpp"
#include "pg/repository.hpp"
#include "pg/settings.hpp"

namespace tb::pg {

namespace {
std::string timestamp_text(TimestampTz t) {
	return pg_eval([t] { return static_cast<const char *>(timestamptz_to_str(t)); });
}
} // namespace

NewArchive::NewArchive(NewBackup &backup, bool background) {
	storage_ = open_repository();
	remove_stale_temporaries(*storage_);
	backup.object_name = new_archive_name(backup.id);
	backup.location = storage_->describe(backup.object_name);
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
	hashing_ = std::make_unique<HashingSink>(*object_);
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
}

void NewArchive::publish_at_commit() {
	writer_.reset();
	hashing_.reset();
	pg::publish_at_commit(std::move(object_));
}

} // namespace tb::pg
