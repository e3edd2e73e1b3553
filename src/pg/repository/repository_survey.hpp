// What a repository holds of this database compared with the catalog: stored copies whose object
// is gone or has another size, objects the catalog knows to be garbage (of a deleted backup whose
// removal failed, tenant_backup.removed_objects, or of a failed backup), objects it does not know
// at all, and S3 multipart uploads never completed. Read-only; backup_repository_check reports
// the findings, backup_sync acts on them. Needs SPI connected.
//
// Only the catalog's positive word makes an object garbage. An object it does not know (a crash
// between publishing and committing, a file put there by hand, a clone of this cluster with the
// same system identifier writing to the same place) is reported and left alone, and an object
// named by any copy row, in any repository and any state, is never garbage.
#pragma once
#include "core/storage/storage.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

// How a long survey or repair may split its work into transactions (the periodic sync worker
// does): commit() ends the transaction and starts another; outside(fn) runs fn, which only calls
// storage (no SQL), between two transactions. Empty (the default), everything runs in the
// caller's transaction (backup_sync(), backup_repository_check()).
struct TransactionBreaks {
	std::function<void()> commit;
	std::function<void(const std::function<void()> &)> outside;
	void commit_now() const {
		if (commit)
			commit();
	}
	void run_outside(const std::function<void()> &fn) const {
		if (outside)
			outside(fn);
		else
			fn();
	}
};

struct SurveyFinding {
	enum Kind { MissingObject, SizeMismatch, LeftoverObject, OrphanObject, IncompleteUpload } kind;
	std::string object_name;
	std::optional<int64_t> backup_id; // from the catalog, or read off an archive name
	std::optional<int64_t> size;      // of the object (leftover, orphan, mismatch) or of the copy (missing)
	bool known = false;               // IncompleteUpload: the catalog knows the upload's object
	tb::IncompleteUpload upload;      // IncompleteUpload only
	const char *kind_name() const;
};

// The catalog is read before the repository is listed, so a copy committed while the listing runs
// is never taken for missing. Objects this transaction publishes at commit are not reported.
// With breaks, the catalog is read in parts of a few thousand copies, each in a transaction of
// its own, and the repository is listed outside any transaction.
std::vector<SurveyFinding> survey_repository(const std::string &repository, Storage &storage,
                                             const TransactionBreaks &breaks = {});

// Asked again right before a removal: whether `name` is still garbage now (under a new snapshot,
// after probing that no transaction is writing objects of backup_id).
// described: a backup record lies beside the object (see known_garbage in the .cpp).
bool still_garbage(const std::string &repository, const std::string &name, int64_t backup_id, bool described);

} // namespace tb::pg
