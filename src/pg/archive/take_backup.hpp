// Taking a backup, for backup_create and for scheduled jobs.
#pragma once
#include "pg/catalog/catalog.hpp"

namespace tb::pg {

// Backs up backup.tenant (as given: canonicalized here) with backup.label and backup.kind, under
// one snapshot, into the repository; the archive is published when the transaction commits. The
// current user needs backup.create; the action is audited. With backup.id already set, the new
// catalog row replaces the 'running' row of that id (a scheduled job's). Needs SPI connected.
void take_backup(NewBackup &backup);

} // namespace tb::pg
