#include "pg/repository/repository_survey.hpp"

#include "pg/catalog/catalog.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/repository/self_description.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/repository/archive_names.hpp"
#include "pg/boundary/spi.hpp"

#include <map>
#include <set>

namespace tb::pg {

namespace {

constexpr int kSurveyBatch = 5000;  // copies read per part
constexpr int kSurveyChecks = 1000; // unknown objects looked up per transaction (with breaks)

constexpr const char *kNamedByCatalog = "SELECT 1 FROM tenant_backup.backup_copies WHERE object_name = $1 "
                                        "UNION ALL SELECT 1 FROM tenant_backup.backups WHERE object_name = $1";

// Garbage by the catalog's word: a deleted backup's object, or an object of a failed backup.
constexpr const char *kKnownGarbage =
    "SELECT 1 FROM tenant_backup.removed_objects WHERE repository = $1 AND object_name = $2 "
    "UNION ALL SELECT 1 FROM tenant_backup.backups WHERE id = $3::bigint AND status = 'failed'";
constexpr const char *kRemovedObject =
    "SELECT 1 FROM tenant_backup.removed_objects WHERE repository = $1 AND object_name = $2";

bool named_by_catalog(const std::string &name) {
	AsExtensionOwner owner; // the catalog is the extension's own
	return !spi_query(kNamedByCatalog, {name}).empty();
}

// described: a record of a completed backup lies beside the object. Then only the catalog's
// list of removed objects makes it garbage, never the failed backup of the same id: ids start
// again at 1 in a catalog created anew (DROP EXTENSION, then CREATE EXTENSION), and the old
// catalog's archives, in the same place, are backups still (self_description.hpp).
bool known_garbage(const std::string &repository, const std::string &name, int64_t backup_id, bool described) {
	AsExtensionOwner owner;
	return !spi_query(described ? kRemovedObject : kKnownGarbage, {repository, name, std::to_string(backup_id)})
	            .empty();
}

} // namespace

const char *SurveyFinding::kind_name() const {
	switch (kind) {
	case MissingObject:
		return "missing_object";
	case SizeMismatch:
		return "size_mismatch";
	case LeftoverObject:
		return "leftover_object";
	case OrphanObject:
		return "orphan_object";
	case IncompleteUpload:
		return "incomplete_upload";
	}
	return "unknown";
}

std::vector<SurveyFinding> survey_repository(const std::string &repository, Storage &storage,
                                             const TransactionBreaks &breaks) {
	struct Recorded {
		int64_t backup_id;
		int64_t size;
		bool stored;
	};
	std::map<std::string, Recorded> recorded;
	// In parts, by backup id (the primary key's order). A copy committed behind the part read
	// meanwhile is not recorded here: its object is then unknown, and named_by_catalog finds it.
	SqlValue after = std::string("0");
	while (after) {
		std::vector<SqlRow> rows;
		{
			AsExtensionOwner owner; // the catalog is the extension's own
			rows = spi_query("SELECT object_name, backup_id, coalesce(size_bytes, -1), state = 'stored' "
			                 "FROM tenant_backup.backup_copies WHERE repository = $1 AND backup_id > $2::bigint "
			                 "ORDER BY backup_id LIMIT $3::int",
			                 {repository, after, std::to_string(kSurveyBatch)}, true);
		}
		for (const auto &r : rows)
			recorded[*r[0]] = {std::stoll(*r[1]), std::stoll(*r[2]), *r[3] == "t"};
		after = rows.size() < static_cast<size_t>(kSurveyBatch) ? std::nullopt : rows.back()[1];
		breaks.commit_now();
	}
	std::vector<SurveyFinding> findings;
	std::string prefix = database_prefix();
	// Under this database's prefix, and under those of the databases whose backups it attached
	// with copies here (issue 18): listed too, or every sync would take those copies for missing
	// (and confirm them again). Objects there that the catalog does not name are not ours:
	// backup_id_of_archive does not read them, so they are never reported or removed.
	std::set<std::string> prefixes{prefix};
	{
		AsExtensionOwner owner;
		for (const auto &r : spi_query("SELECT DISTINCT b.source->>'database_prefix' FROM tenant_backup.backups b "
		                               "JOIN tenant_backup.backup_copies c ON c.backup_id = b.id "
		                               "WHERE c.repository = $1 AND b.source->>'database_prefix' IS NOT NULL",
		                               {repository}, true))
			prefixes.insert(*r[0]);
	}
	std::vector<ObjectInfo> objects;
	breaks.run_outside([&] {
		for (const std::string &p : prefixes)
			for (auto &o : storage.list(p))
				objects.push_back(std::move(o));
	});
	std::set<std::string> seen;
	int checked = 0;
	std::set<std::string> listed;
	for (const auto &object : objects)
		listed.insert(object.name);
	for (const auto &object : objects) {
		seen.insert(object.name);
		auto size = static_cast<int64_t>(object.size);
		auto it = recorded.find(object.name);
		if (it != recorded.end()) {
			// A missing copy's object (damaged, or back after an outage) is for backup_sync's
			// store_copy to confirm or replace; a stored one must have its size.
			if (it->second.stored && it->second.size != size)
				findings.push_back({SurveyFinding::SizeMismatch, object.name, it->second.backup_id, size});
			continue;
		}
		std::optional<int64_t> id = backup_id_of_archive(object.name);
		if (!id || awaiting_publication(object.name) || awaiting_removal(object.name))
			continue; // not named like our archives; or this transaction's own
		if (++checked % kSurveyChecks == 0)
			breaks.commit_now();
		if (named_by_catalog(object.name))
			continue; // a copy recorded under another repository name for the same place
		bool garbage = known_garbage(repository, object.name, *id, listed.count(record_name(object.name)) > 0);
		findings.push_back(
		    {garbage ? SurveyFinding::LeftoverObject : SurveyFinding::OrphanObject, object.name, id, size});
	}
	for (const auto &[name, r] : recorded)
		if (r.stored && !seen.count(name) && !awaiting_publication(name))
			findings.push_back({SurveyFinding::MissingObject, name, r.backup_id, r.size});
	// Multipart uploads never completed (a backend killed mid-upload, an endpoint that went down;
	// or one running now).
	std::vector<tb::IncompleteUpload> uploads;
	breaks.run_outside([&] { uploads = storage.list_incomplete_uploads(); });
	for (auto &u : uploads) {
		if (u.name.compare(0, prefix.size(), prefix) != 0)
			continue;
		std::optional<int64_t> id = backup_id_of_archive(u.name);
		bool known = id && (named_by_catalog(u.name) || known_garbage(repository, u.name, *id, false));
		findings.push_back({SurveyFinding::IncompleteUpload, u.name, id, std::nullopt, known, u});
	}
	return findings;
}

bool still_garbage(const std::string &repository, const std::string &name, int64_t backup_id, bool described) {
	if (awaiting_publication(name) || awaiting_removal(name) || backup_being_written(backup_id))
		return false;
	// Asked after the probe, under a new snapshot (READ COMMITTED): a writer that committed just
	// before the probe has its rows visible now.
	return !named_by_catalog(name) && known_garbage(repository, name, backup_id, described);
}

} // namespace tb::pg
