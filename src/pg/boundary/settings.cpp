#include "pg/boundary/settings.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/pg_headers.hpp"

extern "C" {
#include "utils/varlena.h"
}

#include <cstring>

namespace tb::pg {

namespace {
char *tenant_column = nullptr;
char *repository = nullptr;
char *repositories = nullptr;
char *restore_renames = nullptr;
int compression_level = 3;
char *key_file = nullptr;
char *key_command = nullptr;
char *databases = nullptr;
int max_parallel = 2;
int scheduler_naptime = 60;
int retry_interval = 300;
int job_timeout = 6 * 3600;
int sync_interval = 3600;
int overdue_after = 60;
char *tenant_registry = nullptr;
char *table_owners = nullptr;
int max_backups_per_tenant = 1000;
int clock_offset = 0;
int audit_retention = 400;
bool log_scheduled_backups = false;
bool verify_new_backups = true;
int verify_interval = 7 * 86400;
int drill_interval = 7 * 86400;
bool drill_after_ddl = true;
int max_parallel_checks = 1;
int check_max_read_rate = 64 * 1024; // kB per second
bool pre_restore_backup = true;
int pre_restore_retention = 7;
bool drop_confirmed = false;
int unencrypted_backups = static_cast<int>(UnencryptedBackups::Warn);

const struct config_enum_entry unencrypted_backups_options[] = {
    {"warn", static_cast<int>(UnencryptedBackups::Warn), false},
    {"allow", static_cast<int>(UnencryptedBackups::Allow), false},
    {"refuse", static_cast<int>(UnencryptedBackups::Refuse), false},
    {nullptr, 0, false}};

// A repository must be an absolute path or one relative to the data directory, never empty.
bool check_repository(char **newval, void **, GucSource) {
	if (*newval == nullptr || (*newval)[0] == '\0') {
		GUC_check_errmsg("tenant_backup.repository must not be empty");
		return false;
	}
	return true;
}

// Names only (whether they exist is checked when a backup starts: the catalog is not readable here).
bool check_repositories(char **newval, void **, GucSource) {
	const char *p = *newval ? *newval : "";
	int names = 0;
	while (true) {
		while (*p == ' ')
			p++;
		const char *start = p;
		while (*p && *p != ',' && *p != ' ')
			p++;
		int len = static_cast<int>(p - start);
		bool ok = len > 0 && len <= 63 && start[0] >= 'a' && start[0] <= 'z';
		for (int i = 0; ok && i < len; i++)
			ok = (start[i] >= 'a' && start[i] <= 'z') || (start[i] >= '0' && start[i] <= '9') || start[i] == '_';
		if (!ok) {
			GUC_check_errmsg("tenant_backup.repositories must be a comma-separated list of repository names");
			GUC_check_errdetail("A name is made of lower-case letters, digits and underscores, and starts with a "
			                    "letter.");
			return false;
		}
		names++;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',') {
			GUC_check_errmsg("tenant_backup.repositories must be a comma-separated list of repository names");
			return false;
		}
		p++;
	}
	return names > 0;
}
} // namespace

// Runs from _PG_init, in a PostgreSQL frame with no C++ object alive: plain PostgreSQL calls.
void define_settings() {
	DefineCustomStringVariable("tenant_backup.tenant_column", "Name of the column that identifies the tenant of a row.",
	                           "Every ordinary or partitioned table with this column is a tenant table. "
	                           "Superuser-only: it draws the line between tenants that permissions rely on.",
	                           &tenant_column, "tenant_id", PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("tenant_backup.repository", "Directory where backup archives are stored.",
	                           "A relative path is resolved against the data directory.", &repository,
	                           "pg_tenant_backup", PGC_SUSET, GUC_SUPERUSER_ONLY, check_repository, nullptr, nullptr);
	DefineCustomStringVariable(
	    "tenant_backup.repositories", "Repositories every new backup is stored in.",
	    "Comma-separated names: local, or repositories added with backup_repository_add. "
	    "The first that stores it holds the primary copy; a backup fails only if no copy is stored.",
	    &repositories, "local", PGC_SUSET, GUC_LIST_INPUT, check_repositories, nullptr, nullptr);
	DefineCustomStringVariable("tenant_backup.restore_renames",
	                           "Tables and columns renamed since a backup, for restores, drills and imports.",
	                           "Comma-separated schema.table=schema.new_table and schema.table.column=new_column. "
	                           "Needed only when the archive's OIDs and attnums do not find them (another database).",
	                           &restore_renames, "", PGC_USERSET, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.compression_level", "zstd compression level of new archives.",
	                        "0 stores archives uncompressed.", &compression_level, 3, 0, 19, PGC_USERSET, 0, nullptr,
	                        nullptr, nullptr);
	DefineCustomStringVariable("tenant_backup.encryption_key_file",
	                           "File holding the master key(s) that encrypt backups, as 64 hex characters per line.",
	                           "The first key is current; further lines hold older keys for rotation. The file "
	                           "must be outside the data directory and readable only by the server's user.",
	                           &key_file, "", PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("tenant_backup.encryption_key_command",
	                           "Shell command that prints the master key(s), like encryption_key_file's content.",
	                           "Takes precedence over tenant_backup.encryption_key_file.", &key_command, "", PGC_SUSET,
	                           GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("tenant_backup.databases", "Databases whose scheduled backups the scheduler runs.",
	                           "* (the default): every database where tenant_backup is created; or "
	                           "comma-separated database names. One scheduler background worker each. Needs "
	                           "tenant_backup in shared_preload_libraries.",
	                           &databases, "*", PGC_SIGHUP, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.max_parallel", "Scheduled backups that may run at once in a database.",
	                        nullptr, &max_parallel, 2, 1, 64, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.scheduler_naptime", "Longest time the scheduler sleeps between checks.",
	                        nullptr, &scheduler_naptime, 60, 1, 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
	                        nullptr);
	DefineCustomIntVariable("tenant_backup.retry_interval", "Delay before retrying a failed scheduled backup.",
	                        "Doubled for each further consecutive failure, up to six hours, and never later than "
	                        "the next scheduled run.",
	                        &retry_interval, 300, 1, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.job_timeout", "Longest time a scheduled backup may run.",
	                        "The scheduler then terminates its worker and records it failed, so that a hung "
	                        "backup does not hold its tenant_backup.max_parallel slot. 0 means no limit.",
	                        &job_timeout, 6 * 3600, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.sync_interval", "How often the scheduler repairs the repositories.",
	                        "A sync worker then does what backup_sync() does: stores copies an outage left "
	                        "missing and removes leftovers. 0 turns it off.",
	                        &sync_interval, 3600, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.overdue_after",
	                        "How long after a scheduled time a tenant without a newer backup counts as overdue.",
	                        nullptr, &overdue_after, 60, 1, 10080, PGC_SIGHUP, GUC_UNIT_MIN, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("tenant_backup.tenant_registry", "Table that lists the tenants to schedule.",
	                           "Its tenant_backup.tenant_column column holds one tenant per row. Empty: the "
	                           "tenants are the distinct values found in the tenant tables. Tenants with a "
	                           "schedule of their own are scheduled either way.",
	                           &tenant_registry, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("tenant_backup.table_owners", "Roles whose tables may become tenant tables.",
	                           "Comma-separated roles (members count). A discovered table joins backups only if "
	                           "its owner is one of them, a superuser, the database owner or the extension owner; "
	                           "others are reported by backup_table_gaps(). Registered tables always join.",
	                           &table_owners, "", PGC_SUSET, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.max_backups_per_tenant", "Manual and imported backups one tenant may have.",
	                        "A new one beyond it is refused. Scheduled backups do not count (retention bounds "
	                        "them). 0: no limit.",
	                        &max_backups_per_tenant, 1000, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.scheduler_clock_offset", "Seconds added to the scheduler's clock.",
	                        "Testing only: schedules are run, retention ages and overdue judged as if it were "
	                        "now() plus this (backups' created_at too). The workers read it from the "
	                        "configuration file; a superuser may set it in a session to see next runs.",
	                        &clock_offset, 0, -1000000000, 1000000000, PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_UNIT_S,
	                        nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.audit_retention", "Days tenant_backup.backup_audit keeps a row.",
	                        "The scheduler deletes older rows in batches of 1000. 0 keeps them forever.",
	                        &audit_retention, 400, 0, 36500, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("tenant_backup.verify_new_backups",
	                         "Whether the scheduler verifies each automatic backup right after taking it.",
	                         "As backup_verify does: every chunk and row of the stored copy is read and decoded; "
	                         "the outcome is recorded and shown by backup_status.",
	                         &verify_new_backups, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.verify_interval",
	                        "How often the scheduler verifies each tenant's newest backup, every copy of it.",
	                        "Each tenant's verifications are spread over the interval by a hash of the tenant, as "
	                        "a backup window spreads backups. 0: no verification on a cadence.",
	                        &verify_interval, 7 * 86400, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.drill_interval",
	                        "How often the scheduler runs a restore drill of each tenant's newest backup.",
	                        "Spread over the interval by a hash of the tenant. 0: no drill on a cadence.",
	                        &drill_interval, 7 * 86400, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("tenant_backup.drill_after_ddl",
	                         "Whether a schema change to a table drills the newest backups that hold it.",
	                         "ALTER TABLE and DROP TABLE are recorded (one row per table); at its next pass the "
	                         "scheduler drills each tenant whose newest backup holds a changed table.",
	                         &drill_after_ddl, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.max_parallel_checks",
	                        "Verifications and restore drills the scheduler runs at once per database.",
	                        "0: none (the cadence waits).", &max_parallel_checks, 1, 0, 64, PGC_SIGHUP, 0, nullptr,
	                        nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.check_max_read_rate",
	                        "Bytes per second the scheduler's verifications and drills read, all together.",
	                        "Shared equally by tenant_backup.max_parallel_checks workers. 0: no limit.",
	                        &check_max_read_rate, 64 * 1024, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_KB, nullptr, nullptr,
	                        nullptr);
	DefineCustomBoolVariable("tenant_backup.log_scheduled_backups",
	                         "Log the audit line of every scheduled backup and retention deletion.",
	                         "Off: each job worker logs one summary line per run (failures are always logged); "
	                         "the audit rows are written either way.",
	                         &log_scheduled_backups, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("tenant_backup.drop_confirmed",
	                         "Lets DROP EXTENSION tenant_backup destroy a catalog that holds backups or tenant keys.",
	                         "Off: DROP EXTENSION tenant_backup is refused while the catalog holds backups or tenant "
	                         "keys (the archives stay in the repositories either way; backup_attach brings them back).",
	                         &drop_confirmed, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomEnumVariable("tenant_backup.unencrypted_backups",
	                         "What a backup does when no encryption key is configured.",
	                         "warn: a WARNING once per session; allow: backups are unencrypted on purpose, no "
	                         "warning; refuse: backups and imports fail until a key is configured.",
	                         &unencrypted_backups, static_cast<int>(UnencryptedBackups::Warn),
	                         unencrypted_backups_options, PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("tenant_backup.pre_restore_backup",
	                         "Back up the tenant as it is before every restore (kind pre_restore).",
	                         "In the restore's transaction, before any row changes: restoring that backup undoes "
	                         "the restore. Off: restores keep no copy of what they overwrite.",
	                         &pre_restore_backup, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("tenant_backup.pre_restore_retention", "Days a pre_restore backup is kept.",
	                        "The scheduler's periodic sync deletes older ones (unless pinned or kept). 0 keeps "
	                        "them until deleted by hand.",
	                        &pre_restore_retention, 7, 0, 36500, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("tenant_backup");
}

const char *setting_tenant_column() {
	return tenant_column;
}
const char *setting_repository() {
	return repository;
}
const char *setting_repositories() {
	return repositories;
}
const char *setting_restore_renames() {
	return restore_renames ? restore_renames : "";
}
int setting_compression_level() {
	return compression_level;
}
const char *setting_key_file() {
	return key_file;
}
const char *setting_key_command() {
	return key_command;
}

const char *setting_databases() {
	return databases;
}

bool setting_all_databases() {
	const char *s = databases ? databases : "";
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	return n == 1 && s[0] == '*';
}

std::vector<std::string> setting_database_names(bool &valid) {
	std::vector<std::string> names;
	valid = true;
	if (setting_all_databases())
		return names;
	List *list = nullptr;
	const char *setting = databases;
	valid = pg_eval([&] { return SplitIdentifierString(pstrdup(setting ? setting : ""), ',', &list); });
	if (!valid)
		return names;
	int count = pg_eval([&] { return list_length(list); });
	for (int i = 0; i < count; i++)
		names.emplace_back(pg_eval([&] { return static_cast<const char *>(list_nth(list, i)); }));
	pg_call([&] { list_free(list); });
	return names;
}
int setting_max_parallel() {
	return max_parallel;
}
int setting_scheduler_naptime() {
	return scheduler_naptime;
}
int setting_retry_interval() {
	return retry_interval;
}
int setting_job_timeout() {
	return job_timeout;
}
int setting_sync_interval() {
	return sync_interval;
}
int setting_overdue_after() {
	return overdue_after;
}
int setting_max_backups_per_tenant() {
	return max_backups_per_tenant;
}
const char *setting_table_owners() {
	return table_owners;
}
const char *setting_tenant_registry() {
	return tenant_registry;
}
int setting_clock_offset() {
	return clock_offset;
}
int setting_audit_retention() {
	return audit_retention;
}
bool setting_verify_new_backups() {
	return verify_new_backups;
}
int setting_verify_interval() {
	return verify_interval;
}
int setting_drill_interval() {
	return drill_interval;
}
bool setting_drill_after_ddl() {
	return drill_after_ddl;
}
int setting_max_parallel_checks() {
	return max_parallel_checks;
}
uint64_t setting_check_max_read_rate() {
	return static_cast<uint64_t>(check_max_read_rate) * 1024;
}
bool setting_log_scheduled_backups() {
	return log_scheduled_backups;
}
bool setting_drop_confirmed() {
	return drop_confirmed;
}
UnencryptedBackups setting_unencrypted_backups() {
	return static_cast<UnencryptedBackups>(unencrypted_backups);
}

bool setting_pre_restore_backup() {
	return pre_restore_backup;
}
int setting_pre_restore_retention() {
	return pre_restore_retention;
}

} // namespace tb::pg
