// What a repository holds of this database compared with the catalog's copies: objects without a
// stored copy row (leftovers of crashes, failed removals, damaged copies), stored copies whose
// object is gone or has another size, and S3 multipart uploads never completed. Read-only;
// backup_repository_check reports the findings, backup_sync acts on them. Needs SPI connected.
#pragma once
#include "core/storage/s3_storage.hpp"
#include "core/storage/storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

struct SurveyFinding {
	enum Kind { OrphanObject, MissingObject, SizeMismatch, IncompleteUpload } kind;
	std::string object_name;
	std::optional<int64_t> backup_id; // from the copy row, or read off an archive name
	std::optional<int64_t> size;      // of the object (orphan, mismatch) or of the copy (missing)
	S3Storage::Upload upload;         // IncompleteUpload only
	const char *kind_name() const;
};

// The catalog is read before the repository is listed, so a copy committed while the listing runs
// is never taken for missing. Objects this transaction publishes at commit are not reported.
std::vector<SurveyFinding> survey_repository(const std::string &repository, Storage &storage);

// Whether `name` in `repository` is, as of now, a stored copy of a backup (or the primary archive
// of a completed backup), or belongs to a backup some transaction is writing: then it must stay.
bool object_still_needed(const std::string &repository, const std::string &name, std::optional<int64_t> backup_id);

} // namespace tb::pg
