#include "pg/settings.hpp"

#include "pg/pg_headers.hpp"

namespace tb::pg {

namespace {
char *tenant_column = nullptr;
char *repository = nullptr;
int compression_level = 3;
char *key_file = nullptr;
char *key_command = nullptr;

// A repository must be an absolute path or one relative to the data directory, never empty.
bool check_repository(char **newval, void **, GucSource) {
	if (*newval == nullptr || (*newval)[0] == '\0') {
		GUC_check_errmsg("tenant_backup.repository must not be empty");
		return false;
	}
	return true;
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
	MarkGUCPrefixReserved("tenant_backup");
}

const char *setting_tenant_column() {
	return tenant_column;
}
const char *setting_repository() {
	return repository;
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

} // namespace tb::pg
