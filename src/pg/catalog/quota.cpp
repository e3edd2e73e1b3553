#include "pg/catalog/quota.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"

namespace tb::pg {

void check_backup_quota(const std::string &tenant) {
	int limit = setting_max_backups_per_tenant();
	if (limit <= 0)
		return;
	AsExtensionOwner owner; // every backup of the tenant counts, whatever the caller may see
	auto rows = spi_query("SELECT count(*)::text FROM tenant_backup.backups "
	                      "WHERE tenant OPERATOR(pg_catalog.=) $1 AND kind OPERATOR(pg_catalog.<>) 'auto' "
	                      "AND kind OPERATOR(pg_catalog.<>) 'pre_restore' "
	                      "AND status OPERATOR(pg_catalog.<>) 'failed'",
	                      {tenant}, true);
	long long count = std::stoll(*rows.at(0)[0]);
	if (count < limit)
		return;
	throw SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
	               "tenant \"" + tenant + "\" already has " + std::to_string(count) + " manual or imported backups",
	               "tenant_backup.max_backups_per_tenant is " + std::to_string(limit) + ".",
	               "Delete backups that are no longer needed with tenant_backup.backup_delete(), or have a superuser "
	               "raise the limit.");
}

} // namespace tb::pg
