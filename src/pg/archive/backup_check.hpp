// Verifying a backup's archive end to end (backup_verify; the scheduler after each automatic
// backup).
#pragma once
#include "pg/catalog/catalog.hpp"

#include <string>

namespace tb::pg {

struct VerifyOutcome {
	bool ok = false;
	int32 tables = 0;
	int64 rows = 0;
	std::string error;
};

// Checks the first healthy copy of the backup (the checksum, every chunk, every row decoded, the
// row counts). Damage is the outcome; any other error (a missing key, a cancel) is thrown. Needs
// SPI connected.
VerifyOutcome verify_backup(const StoredBackup &backup);

// Records the outcome in tenant_backup.backups (verified_at, verify_status, verify_error).
void record_verify_outcome(int64 id, const VerifyOutcome &out);

} // namespace tb::pg
