// The repair behind tenant_backup.backup_sync() and the periodic sync: makes every repository
// hold what the catalog says, as far as the repositories can be reached:
//   1. a stored copy whose object is gone or has another size is recorded 'missing';
//   2. objects the catalog knows to be garbage are removed: those of deleted backups whose removal
//      failed at commit (tenant_backup.removed_objects) and those of failed backups; S3 multipart
//      uploads of its backups that nobody is writing any more are aborted. An object the catalog
//      does not know is never removed (see repository_survey.hpp);
//      Key records of forgotten tenants that could not be removed then
//      (tenant_backup.pending_key_removals) are removed too;
//   3. every missing copy of a completed backup is confirmed where its object turns out to be
//      intact after all, or else stored again from a healthy copy, published only if what was
//      read has the backup's size and SHA-256.
#include "pg/repository/sync.hpp"

#include "core/error.hpp"
#include "core/stream/sha256.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/registry.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/repository/repository_survey.hpp"
#include "pg/repository/self_description.hpp"
#include "pg/boundary/spi.hpp"

#include <functional>
#include <map>

using namespace tb::pg;

namespace {

constexpr int kActionsPerTransaction = 100; // with breaks

struct MissingCopy {
	int64 backup_id;
	std::string repository, object_name;
};

// Counts the actions and hands each to the caller's sink.
struct SyncResult {
	const std::function<void(const SyncRow &)> &sink;
	SyncSummary summary;
	void add(std::optional<int64> backup_id, const std::string &repository, const char *action,
	         const std::string &object_name, const std::string &error) {
		SyncRow row{backup_id, repository, action, object_name, error};
		summary.add(row);
		sink(row);
	}
};

std::vector<std::string> all_repositories() {
	std::vector<std::string> names{kLocalRepository};
	AsExtensionOwner owner;
	for (const auto &r : spi_query("SELECT name FROM tenant_backup.repositories ORDER BY name"))
		names.push_back(*r[0]);
	return names;
}

// Objects of deleted backups that could not be removed when the deleting transaction committed:
// removed now (a no-op for those that were), and forgotten.
void remove_deleted_objects(const std::string &repository, tb::Storage &storage, SyncResult &result,
                            const TransactionBreaks &breaks) {
	std::vector<SqlRow> rows;
	{
		AsExtensionOwner owner;
		rows = spi_query("SELECT object_name, backup_id FROM tenant_backup.removed_objects WHERE repository = $1 "
		                 "ORDER BY object_name",
		                 {repository});
	}
	int done = 0;
	for (const auto &r : rows) {
		const std::string &name = *r[0];
		int64 id = std::stoll(*r[1]);
		if (++done % kActionsPerTransaction == 0)
			breaks.commit_now();
		if (!still_garbage(repository, name, id, true))
			continue;
		bool existed = false;
		std::string error = error_of([&] { existed = storage.remove(name); });
		if (existed || !error.empty())
			result.add(id, repository, "remove_leftover", name, error);
		if (error.empty()) {
			AsExtensionOwner owner;
			spi_query("DELETE FROM tenant_backup.removed_objects WHERE repository = $1 AND object_name = $2",
			          {repository, name});
		}
	}
}

// Steps 1 and 2 for one repository. Nothing is marked or removed in a repository that cannot be
// listed.
void tidy_repository(const std::string &repository, SyncResult &result, const TransactionBreaks &breaks) {
	std::shared_ptr<tb::Storage> storage;
	std::vector<SurveyFinding> findings;
	std::string error = error_of([&] {
		storage = open_storage(repository, true);
		remove_stale_temporaries(*storage);
		findings = survey_repository(repository, *storage, breaks);
	});
	if (!error.empty())
		return result.add(std::nullopt, repository, "check", "", error);
	int done = 0;
	for (const SurveyFinding &f : findings) {
		if (++done % kActionsPerTransaction == 0)
			breaks.commit_now();
		switch (f.kind) {
		case SurveyFinding::MissingObject:
			mark_copy_missing(*f.backup_id, repository, "the object was not found by backup_sync()");
			result.add(f.backup_id, repository, "mark_missing", f.object_name, "");
			break;
		case SurveyFinding::SizeMismatch:
			mark_copy_missing(*f.backup_id, repository,
			                  "backup_sync() found the object holding " + std::to_string(*f.size) + " bytes");
			result.add(f.backup_id, repository, "mark_missing", f.object_name, "");
			break;
		case SurveyFinding::LeftoverObject: // of a failed backup (a deleted one's: below)
			if (!still_garbage(repository, f.object_name, *f.backup_id, storage->exists(record_name(f.object_name))))
				break;
			result.add(f.backup_id, repository, "remove_leftover", f.object_name,
			           error_of([&] { storage->remove(f.object_name); }));
			break;
		case SurveyFinding::OrphanObject:
			break; // not known to be garbage: reported by backup_repository_check, left alone
		case SurveyFinding::IncompleteUpload:
			if (!f.known || backup_being_written(*f.backup_id))
				break;
			result.add(f.backup_id, repository, "abort_upload", f.object_name,
			           error_of([&] { storage->abort_incomplete_upload(f.upload); }));
			break;
		}
	}
	remove_deleted_objects(repository, *storage, result, breaks);
	// Key records of forgotten tenants that backup_forget_tenant could not remove here.
	auto add = [&](std::optional<int64> id, const char *action, const std::string &name, const std::string &error) {
		result.add(id, repository, action, name, error);
	};
	std::string forgotten = error_of([&] { remove_forgotten_key_records(repository, *storage, add, breaks); });
	if (!forgotten.empty())
		result.add(std::nullopt, repository, "remove_key", "", forgotten);
	// The repository describes itself (self_description.hpp): records of copies without one (a
	// backup of 0.1.0, or one whose record could not be written then) and every tenant key.
	std::string described = error_of([&] { describe_repository(repository, *storage, add, breaks); });
	if (!described.empty())
		result.add(std::nullopt, repository, "write_record", "", described);
}

// Whether the object of a missing copy is in the target already, intact: an outage or an unmounted
// disk that made it look gone is over. Then it needs no copying, and must not be overwritten.
bool intact_in_place(tb::Storage &target, const std::string &name, const StoredBackup &backup) {
	bool intact = false;
	std::string error = error_of([&] {
		if (!target.exists(name) || target.size(name) != static_cast<uint64_t>(backup.size_bytes))
			return;
		uint64_t size = 0;
		std::unique_ptr<tb::Source> in = target.open_read(name);
		intact = tb::sha256_of(*in, &size) == backup.sha256 && size == static_cast<uint64_t>(backup.size_bytes);
	});
	return error.empty() && intact;
}

void record_stored(const MissingCopy &m, const StoredBackup &backup, tb::Storage &target) {
	AsExtensionOwner owner;
	spi_query("UPDATE tenant_backup.backup_copies SET state = 'stored', size_bytes = $3::bigint, sha256 = $4, "
	          "stored_at = clock_timestamp(), error = NULL, location = $5 "
	          "WHERE backup_id = $1::bigint AND repository = $2",
	          {std::to_string(m.backup_id), m.repository, std::to_string(backup.size_bytes), backup.sha256,
	           target.describe(m.object_name)});
}

// Step 3 for one copy: returns the action taken (confirm_copy or store_copy) and "" or why the
// copy could not be stored.
std::pair<const char *, std::string> store_copy(const MissingCopy &m) {
	// No row lock: a delete of the backup waits for the copy row this sync has locked instead.
	StoredBackup backup = load_backup(m.backup_id, false);
	if (backup.status != "completed" || !backup.has_archive)
		return {"store_copy", "backup is " + backup.status};
	std::shared_ptr<tb::Storage> target;
	std::string error = error_of([&] { target = open_storage(m.repository, true); });
	if (!error.empty())
		return {"store_copy", error};
	lock_backup_writing(m.backup_id); // a concurrent backup_sync must not take it for a leftover
	if (intact_in_place(*target, m.object_name, backup)) {
		record_stored(m, backup, *target);
		return {"confirm_copy", ""};
	}
	std::string problems;
	for (const BackupCopy &source : readable_copies(backup)) {
		if (source.repository == m.repository)
			continue;
		error = error_of([&] {
			std::shared_ptr<tb::Storage> from = open_storage(source.repository);
			tb::pg::copy_object(*from, *target, m.object_name, backup.sha256, static_cast<uint64_t>(backup.size_bytes));
		});
		if (!error.empty()) {
			problems += (problems.empty() ? "" : "; ") + std::string("from ") + source.repository + ": " + error;
			continue;
		}
		remove_at_abort(target, m.object_name);
		record_stored(m, backup, *target);
		// Its record too; a failure is the next sync's to repair, not this copy's.
		error_of([&] { describe_stored_copy(m.backup_id, m.object_name, target); });
		return {"store_copy", ""};
	}
	return {"store_copy", problems.empty() ? "no stored copy to copy from" : problems};
}

void store_missing_copies(SyncResult &result, const TransactionBreaks &breaks) {
	std::vector<MissingCopy> missing;
	{
		AsExtensionOwner owner;
		for (const auto &r : spi_query("SELECT c.backup_id, c.repository, c.object_name "
		                               "FROM tenant_backup.backup_copies c JOIN tenant_backup.backups b "
		                               "ON b.id = c.backup_id WHERE c.state = 'missing' AND b.status = 'completed' "
		                               "ORDER BY c.backup_id, c.repository"))
			missing.push_back({std::stoll(*r[0]), *r[1], *r[2]});
	}
	for (const MissingCopy &m : missing) {
		breaks.commit_now(); // one copy per transaction, with breaks
		// The copy row locked until the end: a delete of the backup (whose cascade deletes it)
		// waits, and then removes the copy stored here with the others. No tenant lock is held, so
		// restores and deletes of other backups never wait for the whole sync.
		{
			AsExtensionOwner owner;
			if (spi_query("SELECT 1 FROM tenant_backup.backup_copies WHERE backup_id = $1::bigint "
			              "AND repository = $2 AND state = 'missing' FOR UPDATE",
			              {std::to_string(m.backup_id), m.repository})
			        .empty())
				continue; // deleted or stored meanwhile
		}
		auto [action, error] = store_copy(m);
		if (!error.empty()) {
			AsExtensionOwner owner;
			spi_query("UPDATE tenant_backup.backup_copies SET error = $3 WHERE backup_id = $1::bigint "
			          "AND repository = $2",
			          {std::to_string(m.backup_id), m.repository, error});
		}
		result.add(m.backup_id, m.repository, action, m.object_name, error);
	}
}

} // namespace

namespace tb::pg {

SyncSummary synchronize_repositories(const std::function<void(const SyncRow &)> &sink,
                                     const TransactionBreaks &breaks) {
	// Telling a leftover from a copy being committed right now needs a new snapshot per check.
	if (pg_eval([] { return IsolationUsesXactSnapshot(); }))
		throw SqlError(ERRCODE_ACTIVE_SQL_TRANSACTION, "backup_sync() must run at isolation level READ COMMITTED");
	SyncResult result{sink, {}};
	for (const std::string &repository : all_repositories())
		if (!repository_read_only(repository)) // another database's: never marked, removed or written
			tidy_repository(repository, result, breaks);
	store_missing_copies(result, breaks);
	// The stored locations, for display only, brought up to where the objects are now (a moved
	// directory, a changed URL); nothing reads them to find an object. One statement per
	// repository: where its objects are is its description of a name, the name appended.
	for (const std::string &repository : all_repositories()) {
		std::string base;
		if (!error_of([&] {
			     base = open_storage(repository)->describe("x");
			     base.pop_back();
		     }).empty())
			continue;
		// By ranges of 5,000 of the repository's copies (backup ids), a transaction each with breaks.
		SqlValue after = std::string("0");
		while (after) {
			SqlValue upper;
			{
				AsExtensionOwner owner;
				auto upto =
				    spi_query("SELECT max(backup_id), count(*) FROM (SELECT backup_id FROM tenant_backup.backup_copies "
				              "WHERE repository = $1 AND backup_id > $2::bigint ORDER BY backup_id LIMIT 5000) r",
				              {repository, after});
				// The last range is open: a backup row of this repository without a copy row is
				// brought up to date too.
				upper = std::stoll(*upto.at(0)[1]) < 5000 ? std::nullopt : upto[0][0];
				spi_query("UPDATE tenant_backup.backup_copies SET location = $2 || object_name "
				          "WHERE repository = $1 AND backup_id > $3::bigint AND ($4::bigint IS NULL OR backup_id <= "
				          "$4::bigint) "
				          "AND location IS DISTINCT FROM $2 || object_name",
				          {repository, base, after, upper});
				spi_query("UPDATE tenant_backup.backups SET location = $2 || object_name "
				          "WHERE repository = $1 AND id > $3::bigint AND ($4::bigint IS NULL OR id <= $4::bigint) "
				          "AND object_name IS NOT NULL AND location IS DISTINCT FROM $2 || object_name",
				          {repository, base, after, upper});
			}
			after = upper;
			breaks.commit_now(); // outside the owner's scope: no role switch spans a commit
		}
	}
	return result.summary;
}

} // namespace tb::pg
