// A hot standby (a server in recovery) serves what only reads: backup_list, backup_status,
// downloads, CSV exports, backup_verify (its outcome returned, not recorded) and the other
// functions that change nothing. Every function that writes calls refuse_on_standby() first, so
// that it fails at once with one clear error instead of at its first write, or later.
// docs/STANDBYS.md.
#pragma once

namespace tb::pg {

// Whether this server is in recovery (a hot standby).
bool on_standby();

// Throws SqlError(read_only_sql_transaction) naming `function` on a hot standby.
void refuse_on_standby(const char *function);

} // namespace tb::pg
