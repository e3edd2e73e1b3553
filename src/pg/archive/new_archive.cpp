#include "pg/archive/new_archive.hpp"

#include "core/error.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/catalog/keys.hpp"
#include "pg/repository/failover_safety.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/repository/registry.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/warnings.hpp"

#include <algorithm>
#include <exception>

namespace tb::pg {

namespace {
std::string timestamp_text(TimestampTz t) {
	return pg_eval([t] { return static_cast<const char *>(timestamptz_to_str(t)); });
}

bool warned_unencrypted = false; // this session has been told (tenant_backup.unencrypted_backups = warn)

const char *const kKeyHint = "Set tenant_backup.encryption_key_file or tenant_backup.encryption_key_command to "
                             "encrypt backups, or tenant_backup.unencrypted_backups = 'allow' to keep them "
                             "unencrypted on purpose.";

bool key_configured() {
	return setting_key_file()[0] != '\0' || setting_key_command()[0] != '\0';
}

void warn_missing_copy(int64 id, const std::string &repository, const std::string &error) {
	warn("backup " + std::to_string(id) + " has no copy in repository \"" + repository + "\": " + error,
	     "tenant_backup.backup_sync() stores the missing copies later.");
}
} // namespace

NewArchive::NewArchive(NewBackup &backup, bool background) {
	// Before any object exists or any row is read: a refusal leaves nothing behind.
	std::optional<DataKey> key = current_data_key(backup.tenant);
	if (!key && setting_unencrypted_backups() == UnencryptedBackups::Refuse)
		throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		               "the backup of tenant \"" + backup.tenant +
		                   "\" was refused: no encryption key is configured, and "
		                   "tenant_backup.unencrypted_backups is 'refuse'",
		               "", "Set tenant_backup.encryption_key_file or tenant_backup.encryption_key_command.");
	unencrypted_ = !key;
	lock_backup_writing(backup.id); // before any object exists: backup_sync leaves them alone
	backup.object_name = new_archive_name(backup.id);
	backup.copies.clear();
	tee_ = std::make_unique<TeeSink>();
	std::exception_ptr first_error;
	for (const std::string &repository : configured_repositories()) {
		Target t;
		t.repository = repository;
		try {
			t.storage = open_storage(repository, true);
			remove_stale_temporaries(*t.storage);
			t.object = t.storage->open_write(backup.object_name, temporary_tag());
			t.branch = tee_->add(*t.object);
		} catch (...) { // e.g. no such repository, no credentials, an endpoint down: the others go on
			std::optional<CopyFailure> failure = copy_failure(std::current_exception());
			if (!failure)
				throw;
			t.error = failure->message;
			first_error = first_error ? first_error : std::current_exception();
		}
		targets_.push_back(std::move(t));
	}
	if (std::none_of(targets_.begin(), targets_.end(), [](const Target &t) { return t.object != nullptr; }))
		std::rethrow_exception(first_error);
	int level = setting_compression_level();
	backup.compression = level > 0 ? "zstd" : "none";
	backup.key_generation = key ? key->generation : 0;
	archive::WriterOptions options;
	options.backup_id = static_cast<uint64_t>(backup.id);
	options.tenant = backup.tenant;
	options.compression_level = level;
	if (key)
		options.key = key->key;
	options.key_generation = backup.key_generation;
	options.background = background;

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
	writer_->finish(); // flushes the chain and fsyncs the temporary files; throws if no copy is left
	backup.sha256 = hashing_->hex_digest();
	backup.size_bytes = hashing_->bytes();
	std::exception_ptr first_error;
	for (Target &t : targets_) {
		NewCopy copy{t.repository, t.storage ? t.storage->describe(backup.object_name) : "", false, t.error};
		if (t.object && tee_->failed(t.branch))
			copy.error = tee_->error(t.branch);
		if (usable(t) && t.storage->publish_is_local()) {
			t.at_commit = true;
			copy.stored = true;
		} else if (usable(t)) {
			bool published = false;
			try {
				t.object->publish(); // S3: completes the upload, then a HEAD checks size and ETag
				published = true;
				remove_at_abort(t.storage, backup.object_name);
				confirm_size(*t.storage, backup.object_name, backup.size_bytes);
				copy.stored = true;
			} catch (...) {
				std::optional<CopyFailure> failure = copy_failure(std::current_exception());
				if (!failure)
					throw; // a cancel: removed again on abort
				copy.error = failure->message;
				first_error = first_error ? first_error : std::current_exception();
				if (published) {
					try {
						t.storage->remove(backup.object_name);
					} catch (const Error &) {
						// removed on abort, or by backup_sync() as a leftover
					}
				}
			}
		}
		if (!t.at_commit)
			t.object.reset(); // an unpublished S3 upload is aborted here
		backup.copies.push_back(std::move(copy));
	}
	auto primary = std::find_if(backup.copies.begin(), backup.copies.end(), [](const NewCopy &c) { return c.stored; });
	if (primary == backup.copies.end() && first_error)
		std::rethrow_exception(first_error); // every copy that was written failed to publish
	if (primary == backup.copies.end())
		throw Error(ErrorKind::Internal, "backup " + std::to_string(backup.id) + " has no copy");
	backup.repository = primary->repository;
	backup.location = primary->location;
	std::vector<StoredCopyReach> stored; // the primary first
	for (const Target &t : targets_)
		for (const NewCopy &c : backup.copies)
			if (c.stored && c.repository == t.repository)
				stored.insert(c.repository == backup.repository ? stored.begin() : stored.end(),
				              {c.repository, c.location, t.storage->node_local()});
	warn_unless_failover_safe(backup.id, stored);
	std::rotate(backup.copies.begin(), primary, primary + 1); // the primary first, as the catalog wants
	for (const NewCopy &c : backup.copies)
		if (!c.stored)
			warn_missing_copy(backup.id, c.repository, c.error);
	// Said once the backup exists, once per session; a scheduled job's worker does not repeat it
	// for every job (backup_schedule_set said it, and backups.encrypted shows it).
	if (unencrypted_ && setting_unencrypted_backups() == UnencryptedBackups::Warn && !warned_unencrypted &&
	    !pg_eval([] { return IsBackgroundWorker; })) {
		warned_unencrypted = true;
		std::string msg = "backup " + std::to_string(backup.id) + " of tenant \"" + backup.tenant +
		                  "\" is not encrypted: no encryption key is configured";
		const char *m = msg.c_str();
		pg_call([m] {
			ereport(WARNING, (errmsg("%s", m), errdetail("This session does not repeat it for further backups."),
			                  errhint("%s", kKeyHint)));
		});
	}
}

void NewArchive::warn_for_schedule() {
	UnencryptedBackups policy = setting_unencrypted_backups();
	if (key_configured() || policy == UnencryptedBackups::Allow ||
	    (policy == UnencryptedBackups::Warn && warned_unencrypted))
		return;
	warned_unencrypted = policy == UnencryptedBackups::Warn;
	const char *m = policy == UnencryptedBackups::Refuse
	                    ? "the scheduled backups will be refused: no encryption key is configured, and "
	                      "tenant_backup.unencrypted_backups is 'refuse'"
	                    : "the scheduled backups will not be encrypted: no encryption key is configured";
	pg_call([m] { ereport(WARNING, (errmsg("%s", m), errhint("%s", kKeyHint))); });
}

void NewArchive::publish_at_commit() {
	writer_.reset();
	hashing_.reset();
	tee_.reset();
	for (Target &t : targets_)
		if (t.at_commit)
			pg::publish_at_commit(t.storage, std::move(t.object));
	targets_.clear();
}

} // namespace tb::pg
