// The extension's configuration parameters (GUCs), defined when the library loads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tb::pg {

void define_settings();

// tenant_backup.tenant_column: column that marks a table as a tenant table (default tenant_id).
const char *setting_tenant_column();
// tenant_backup.repository: directory of the local repository; relative paths are resolved
// against the data directory (default pg_tenant_backup, i.e. $PGDATA/pg_tenant_backup).
const char *setting_repository();
// tenant_backup.repositories: comma-separated repositories every backup is stored in, the first
// being the primary copy (default local; see src/pg/repository/registry.hpp).
const char *setting_repositories();
// tenant_backup.restore_renames: tables and columns renamed since a backup, for restores that
// cannot find them by the OID and attnum the archive recorded (another database): comma-separated
// "schema.table=schema.new_table" and "schema.table.column=new_column" (default empty; see
// column_mapping.hpp). Any user may set it, for the restores of its session.
const char *setting_restore_renames();
// tenant_backup.compression_level: zstd level, 0 turns compression off (default 3).
int setting_compression_level();
// tenant_backup.encryption_key_file / encryption_key_command: where the master keys come from
// (empty: backups are not encrypted). The command wins when both are set.
const char *setting_key_file();
const char *setting_key_command();
// tenant_backup.unencrypted_backups: what a backup without a configured key does (issue 19.9):
// warn (once per session, the default), allow (unencrypted on purpose: no warning), or refuse.
// Superuser-only, so that a session cannot lift a refusal.
enum class UnencryptedBackups { Warn, Allow, Refuse };
UnencryptedBackups setting_unencrypted_backups();

// The scheduler (see src/pg/scheduler/). All reloadable with SIGHUP.
// tenant_backup.databases: comma-separated databases that get a scheduler, or '*' (the default):
// every database where the extension is created (the launcher finds them, see launcher.cpp).
const char *setting_databases();
// Whether tenant_backup.databases is '*'.
bool setting_all_databases();
// The names tenant_backup.databases lists (as in search_path: quote a name with capitals or
// commas); `valid` is false when it is not a list of names. Empty for '*'.
std::vector<std::string> setting_database_names(bool &valid);
// tenant_backup.max_parallel: scheduled backups running at once per database (default 2).
int setting_max_parallel();
// tenant_backup.scheduler_naptime: seconds between the scheduler's checks at most (default 60).
int setting_scheduler_naptime();
// tenant_backup.retry_interval: seconds before the first retry of a failed scheduled backup,
// doubled for each further consecutive failure up to six hours (default 300).
int setting_retry_interval();
// tenant_backup.job_timeout: seconds a scheduled backup may run before the scheduler terminates
// its worker and records it failed; 0: no limit (default 21600, six hours).
int setting_job_timeout();
// tenant_backup.sync_interval: seconds between the scheduler's repairs (0: none).
int setting_sync_interval();
// tenant_backup.overdue_after: minutes after a scheduled time before a tenant without a backup
// since then counts as overdue (default 60).
int setting_overdue_after();
// tenant_backup.tenant_registry: a table listing the tenants (in its tenant_backup.tenant_column
// column); empty: tenants are the distinct values of the tenant tables (default). Tenants with a
// schedule of their own are added either way.
const char *setting_tenant_registry();
// tenant_backup.table_owners: roles (besides superusers, the database owner and the extension
// owner) whose discovered tables are tenant tables; see table_trust.hpp. Superuser-only.
const char *setting_table_owners();
// tenant_backup.max_backups_per_tenant: manual and imported backups one tenant may have (default
// 1000, 0: no limit); see quota.hpp. Superuser-only.
int setting_max_backups_per_tenant();
// tenant_backup.scheduler_clock_offset: seconds added to the scheduler's clock (testing only).
// Everything the scheduler compares is on that clock: now, next runs, and backups' created_at
// (offset added) for retention and overdue. Superuser-only, so that a session may set it too.
int setting_clock_offset();
// tenant_backup.audit_retention: days tenant_backup.backup_audit keeps a row (default 400; 0:
// forever). The scheduler prunes older rows in small batches.
int setting_audit_retention();
// tenant_backup.verify_new_backups: whether the scheduler verifies each automatic backup right
// after it is taken (default on; issue 20).
bool setting_verify_new_backups();
// tenant_backup.verify_interval / drill_interval: seconds between the scheduler's verifications
// (every copy) and restore drills of each tenant's newest backup (default a week; 0: none), spread
// by a hash of the tenant; tenant_backup.drill_after_ddl: whether a schema change to a table
// drills the newest backups that hold it (default on); tenant_backup.max_parallel_checks: check
// workers at once per database (default 1); tenant_backup.check_max_read_rate: bytes per second
// they read, all together (default 64 MB; 0: no limit). Issue 20, scheduler/checks.hpp.
int setting_verify_interval();
int setting_drill_interval();
bool setting_drill_after_ddl();
int setting_max_parallel_checks();
uint64_t setting_check_max_read_rate();
// tenant_backup.log_scheduled_backups: whether every scheduled backup and retention deletion logs
// its audit line (default off: a job worker logs one summary line per run instead).
bool setting_log_scheduled_backups();
// tenant_backup.pre_restore_backup: whether a restore first backs up the tenant as it is (kind
// pre_restore, default on); tenant_backup.pre_restore_retention: days such a backup is kept
// (default 7; 0: until deleted), applied by the scheduler's periodic sync.
bool setting_pre_restore_backup();
int setting_pre_restore_retention();
// tenant_backup.drop_confirmed: DROP EXTENSION tenant_backup may destroy backups and keys.
bool setting_drop_confirmed();

} // namespace tb::pg
