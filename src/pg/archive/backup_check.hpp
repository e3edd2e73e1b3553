// Verifying a backup's archive end to end (backup_verify; the scheduler after each automatic
// backup).
#pragma once
#include "pg/catalog/catalog.hpp"

#include <string>
#include <vector>

namespace tb::pg {

// The outcome of a verification or a drill: what backup_verify and backup_drill return.
struct VerifyOutcome {
	bool ok = false;
	int32 tables = 0;
	int64 rows = 0;
	std::string error; // NULL in the result when ok
};

// Adds the outcome as the one row (ok, tables, rows, error) of a materialized result.
void put_outcome_row(FunctionCallInfo fcinfo, const VerifyOutcome &out);

// Checks the first healthy copy of the backup (the checksum, every chunk, every row decoded, the
// row counts). Damage is the outcome; any other error (a missing key, a cancel) is thrown. Needs
// SPI connected.
VerifyOutcome verify_backup(const StoredBackup &backup);

// Records the outcome in tenant_backup.backups (verified_at, verify_status, verify_error).
void record_verify_outcome(int64 id, const VerifyOutcome &out);

// What verify_every_copy found in one copy.
struct CopyCheck {
	std::string repository;
	enum class Verdict { Ok, Damaged, Unreachable } verdict = Verdict::Ok;
	std::string error; // why, when not Ok
};
struct CopiesOutcome {
	// ok when at least one copy was read whole (the backup restores; its tables and rows); else
	// the problem of every copy.
	VerifyOutcome outcome;
	std::vector<CopyCheck> copies;
	// Whether the outcome was recorded: a copy was read whole, or every copy was found damaged.
	// Not when the copies left could not be reached (an endpoint down): no verdict then.
	bool verdict = false;
};

// The scheduler's verification on a cadence (issue 20): every stored copy of the backup on its
// own, each as verify_backup checks one (the checksum, every chunk, every row decoded, the row
// counts). A copy found absent or damaged is recorded missing with the cause ("verification:
// ...", mark_copy_missing), so that readers skip it and backup_sync() stores it again from a
// healthy copy; one read whole gets backup_copies.verified_at. One that cannot be reached is no
// verdict on it. The outcome goes to tenant_backup.backups when there is a verdict. An error that
// is not the copy's (a missing key, a cancel, a PostgreSQL error) is thrown. Needs SPI connected.
CopiesOutcome verify_every_copy(const StoredBackup &backup);

} // namespace tb::pg
