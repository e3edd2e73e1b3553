// Verifying a backup's archive end to end (backup_verify; the scheduler after each automatic
// backup).
#pragma once
#include "pg/catalog/catalog.hpp"

#include <string>

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

} // namespace tb::pg
