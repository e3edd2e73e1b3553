// How many backups a caller may make of one tenant. Manual backups and imports are made on
// demand by whoever holds backup.create or backup.restore on the tenant; without a limit one such
// role fills the repository (by default inside the data directory) for everyone. Scheduled
// backups are bounded by their retention instead, and never count.
#pragma once
#include <string>

namespace tb::pg {

// Refuses (program_limit_exceeded, naming the setting) a new manual or imported backup of the
// tenant when it already has tenant_backup.max_backups_per_tenant of them. Call under the tenant's
// lock; sessions backing up one tenant at the same moment may each pass once. Needs SPI connected.
void check_backup_quota(const std::string &tenant);

} // namespace tb::pg
