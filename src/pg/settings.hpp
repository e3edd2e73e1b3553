// The extension's configuration parameters (GUCs), defined when the library loads.
#pragma once

namespace tb::pg {

void define_settings();

// tenant_backup.tenant_column: column that marks a table as a tenant table (default tenant_id).
const char *setting_tenant_column();
// tenant_backup.repository: directory of the local repository; relative paths are resolved
// against the data directory (default pg_tenant_backup, i.e. $PGDATA/pg_tenant_backup).
const char *setting_repository();
// tenant_backup.compression_level: zstd level, 0 turns compression off (default 3).
int setting_compression_level();
// tenant_backup.encryption_key_file / encryption_key_command: where the master keys come from
// (empty: backups are not encrypted). The command wins when both are set.
const char *setting_key_file();
const char *setting_key_command();

} // namespace tb::pg
