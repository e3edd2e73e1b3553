// tenant_backup.backup_sync(): stores the missing copies of completed backups, each streamed from
// a healthy copy and published only if what was read has the backup's size and SHA-256.
// tenant_backup.backup_repository_check(name): compares a repository's objects of this database
// with the catalog's copies. Superusers only.
#include "core/error.hpp"
#include "core/storage/s3_storage.hpp"
#include "pg/audit.hpp"
#include "pg/backup_copies.hpp"
#include "pg/catalog.hpp"
#include "pg/guard.hpp"
#include "pg/pending_objects.hpp"
#include "pg/permissions.hpp"
#include "pg/repositories.hpp"
#include "pg/repository.hpp"
#include "pg/spi.hpp"
#include "pg/srf_rows.hpp"

#include <map>
#include <set>

using namespace tb::pg;

namespace {

struct MissingCopy {
	int64 backup_id;
	std::string repository, object_name;
};

// Stores one missing copy; returns "" or why it could not.
std::string store_copy(const MissingCopy &m) {
	StoredBackup backup = load_backup(m.backup_id);
	if (backup.status != "completed" || !backup.has_archive)
		return "backup is " + backup.status;
	std::shared_ptr<tb::Storage> target;
	try {
		target = open_storage(m.repository);
	} catch (const SqlError &e) {
		return e.what();
	}
	std::string problems;
	for (const BackupCopy &source : readable_copies(backup)) {
		if (source.repository == m.repository)
			continue;
		try {
			std::shared_ptr<tb::Storage> from = open_storage(source.repository);
			tb::pg::copy_object(*from, *target, m.object_name, backup.sha256, static_cast<uint64_t>(backup.size_bytes));
			remove_at_abort(target, m.object_name);
			AsExtensionOwner owner;
			spi_query("UPDATE tenant_backup.backup_copies SET state = 'stored', size_bytes = $3::bigint, sha256 = $4, "
			          "stored_at = clock_timestamp(), error = NULL, location = $5 "
			          "WHERE backup_id = $1::bigint AND repository = $2",
			          {std::to_string(m.backup_id), m.repository, std::to_string(backup.size_bytes), backup.sha256,
			           target->describe(m.object_name)});
			return "";
		} catch (const tb::Error &e) {
			problems += (problems.empty() ? "" : "; ") + std::string("from ") + source.repository + ": " + e.what();
		} catch (const SqlError &e) {
			problems += (problems.empty() ? "" : "; ") + std::string("from ") + source.repository + ": " + e.what();
		}
	}
	return problems.empty() ? "no stored copy to copy from" : problems;
}

} // namespace

// backup_sync() RETURNS TABLE (backup_id bigint, repository text, stored boolean, error text)
TB_SQL_FUNCTION(backup_sync) {
	spi_begin();
	require_superuser("sync", "synchronize repositories");
	AuditedAction audit("sync");
	SrfRows out(fcinfo);
	std::vector<MissingCopy> missing;
	std::map<int64, std::string> tenants;
	{
		AsExtensionOwner owner;
		for (const auto &r : spi_query("SELECT c.backup_id, c.repository, c.object_name, b.tenant "
		                               "FROM tenant_backup.backup_copies c JOIN tenant_backup.backups b "
		                               "ON b.id = c.backup_id WHERE c.state = 'missing' AND b.status = 'completed' "
		                               "ORDER BY c.backup_id, c.repository"))
			missing.push_back({std::stoll(*r[0]), *r[1], *r[2]}), tenants[std::stoll(*r[0])] = *r[3];
	}
	int stored = 0, failed = 0;
	for (const MissingCopy &m : missing) {
		lock_tenant(tenants[m.backup_id], false); // as a backup: no delete or restore meanwhile
		{
			AsExtensionOwner owner;
			if (spi_query("SELECT 1 FROM tenant_backup.backup_copies WHERE backup_id = $1::bigint "
			              "AND repository = $2 AND state = 'missing' FOR UPDATE",
			              {std::to_string(m.backup_id), m.repository})
			        .empty())
				continue; // deleted or stored meanwhile
		}
		std::string error = store_copy(m);
		if (error.empty()) {
			stored++;
		} else {
			failed++;
			AsExtensionOwner owner;
			spi_query("UPDATE tenant_backup.backup_copies SET error = $3 WHERE backup_id = $1::bigint "
			          "AND repository = $2",
			          {std::to_string(m.backup_id), m.repository, error});
		}
		out.add({std::to_string(m.backup_id), m.repository, std::string(error.empty() ? "t" : "f"),
		         error.empty() ? std::nullopt : SqlValue(error)});
	}
	audit.ok(std::to_string(stored) + " cop" + (stored == 1 ? "y" : "ies") + " stored, " + std::to_string(failed) +
	         " still missing");
	spi_end();
	return 0;
}

// backup_repository_check(name text) RETURNS TABLE (problem text, object_name text, backup_id bigint,
// size_bytes bigint)
TB_SQL_FUNCTION(backup_repository_check) {
	spi_begin();
	require_superuser("repository_check", "check a repository");
	std::optional<std::string> name = arg_text(fcinfo, 0);
	if (!name)
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "name must not be NULL");
	AuditedAction audit("repository_check");
	SrfRows out(fcinfo);
	std::shared_ptr<tb::Storage> storage = open_storage(*name);
	std::string prefix = database_prefix();
	struct Recorded {
		int64 backup_id;
		int64 size;
		bool stored;
	};
	std::map<std::string, Recorded> recorded;
	{
		AsExtensionOwner owner;
		for (const auto &r : spi_query("SELECT object_name, backup_id, coalesce(size_bytes, -1), state = 'stored' "
		                               "FROM tenant_backup.backup_copies WHERE repository = $1",
		                               {*name}))
			recorded[*r[0]] = {std::stoll(*r[1]), std::stoll(*r[2]), *r[3] == "t"};
	}
	int problems = 0;
	std::set<std::string> seen;
	for (const auto &object : storage->list(prefix)) {
		seen.insert(object.name);
		auto it = recorded.find(object.name);
		std::string size = std::to_string(object.size);
		if (it == recorded.end() || !it->second.stored) {
			if (awaiting_publication(object.name))
				continue;
			out.add({std::string("orphan_object"), object.name,
			         it == recorded.end() ? std::nullopt : SqlValue(std::to_string(it->second.backup_id)), size});
			problems++;
		} else if (it->second.size != static_cast<int64>(object.size)) {
			out.add({std::string("size_mismatch"), object.name, std::to_string(it->second.backup_id), size});
			problems++;
		}
	}
	for (const auto &[object_name, r] : recorded) {
		if (!r.stored || seen.count(object_name))
			continue;
		out.add({std::string("missing_object"), object_name, std::to_string(r.backup_id), std::to_string(r.size)});
		problems++;
	}
	// Multipart uploads never completed (a backend killed mid-upload; or one running now).
	if (auto *s3 = dynamic_cast<tb::S3Storage *>(storage.get()))
		for (const auto &u : s3->list_uploads())
			if (u.name.compare(0, prefix.size(), prefix) == 0) {
				out.add({std::string("incomplete_upload"), u.name, std::nullopt, std::nullopt});
				problems++;
			}
	audit.ok(*name + ": " + std::to_string(problems) + " problem(s)");
	spi_end();
	return 0;
}
