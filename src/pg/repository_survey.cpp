#include "pg/repository_survey.hpp"

#include "pg/catalog.hpp"
#include "pg/guard.hpp"
#include "pg/pending_objects.hpp"
#include "pg/permissions.hpp"
#include "pg/repository.hpp"
#include "pg/spi.hpp"

#include <map>
#include <set>

namespace tb::pg {

const char *SurveyFinding::kind_name() const {
	switch (kind) {
	case OrphanObject:
		return "orphan_object";
	case MissingObject:
		return "missing_object";
	case SizeMismatch:
		return "size_mismatch";
	case IncompleteUpload:
		return "incomplete_upload";
	}
	return "unknown";
}

std::vector<SurveyFinding> survey_repository(const std::string &repository, Storage &storage) {
	struct Recorded {
		int64_t backup_id;
		int64_t size;
		bool stored;
	};
	std::map<std::string, Recorded> recorded;
	{
		AsExtensionOwner owner; // the catalog is the extension's own
		for (const auto &r : spi_query("SELECT object_name, backup_id, coalesce(size_bytes, -1), state = 'stored' "
		                               "FROM tenant_backup.backup_copies WHERE repository = $1",
		                               {repository}))
			recorded[*r[0]] = {std::stoll(*r[1]), std::stoll(*r[2]), *r[3] == "t"};
	}
	std::vector<SurveyFinding> findings;
	std::string prefix = database_prefix();
	std::set<std::string> seen;
	for (const auto &object : storage.list(prefix)) {
		seen.insert(object.name);
		auto it = recorded.find(object.name);
		auto size = static_cast<int64_t>(object.size);
		if (it == recorded.end() || !it->second.stored) {
			if (awaiting_publication(object.name))
				continue;
			std::optional<int64_t> id =
			    it == recorded.end() ? backup_id_of_archive(object.name) : std::optional<int64_t>(it->second.backup_id);
			findings.push_back({SurveyFinding::OrphanObject, object.name, id, size, {}});
		} else if (it->second.size != size) {
			findings.push_back({SurveyFinding::SizeMismatch, object.name, it->second.backup_id, size, {}});
		}
	}
	for (const auto &[name, r] : recorded)
		if (r.stored && !seen.count(name) && !awaiting_publication(name))
			findings.push_back({SurveyFinding::MissingObject, name, r.backup_id, r.size, {}});
	// Multipart uploads never completed (a backend killed mid-upload; or one running now).
	if (auto *s3 = dynamic_cast<S3Storage *>(&storage))
		for (auto &u : s3->list_uploads())
			if (u.name.compare(0, prefix.size(), prefix) == 0)
				findings.push_back(
				    {SurveyFinding::IncompleteUpload, u.name, backup_id_of_archive(u.name), std::nullopt, u});
	return findings;
}

bool object_still_needed(const std::string &repository, const std::string &name, std::optional<int64_t> backup_id) {
	if (!backup_id)
		return true; // not named like our archives: never ours to remove
	if (awaiting_publication(name) || awaiting_removal(name))
		return true; // this transaction's own
	if (backup_being_written(*backup_id))
		return true;
	// Asked after the probe, under a new snapshot (READ COMMITTED): a writer that committed just
	// before the probe has its rows visible now. A backup without copy rows has its primary only.
	AsExtensionOwner owner;
	return !spi_query("SELECT 1 FROM tenant_backup.backup_copies WHERE repository = $1 AND object_name = $2 "
	                  "AND state = 'stored' UNION ALL SELECT 1 FROM tenant_backup.backups b WHERE id = $3::bigint "
	                  "AND status = 'completed' AND repository = $1 AND object_name = $2 AND NOT EXISTS "
	                  "(SELECT 1 FROM tenant_backup.backup_copies c WHERE c.backup_id = b.id)",
	                  {repository, name, std::to_string(*backup_id)})
	            .empty();
}

} // namespace tb::pg
