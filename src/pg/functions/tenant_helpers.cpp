// Internal SQL helpers of the extension's views and functions (tenant_backup--*.sql): the
// effective tenant column, a tenant value as the catalog records it, and the refusal of a
// writing SQL-language function on a hot standby.
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/tenant_tables.hpp"

using namespace tb::pg;

// tenant_backup._tenant_column(): the effective tenant_backup.tenant_column, for backup_tables().
TB_SQL_FUNCTION(tenant_backup_tenant_column) {
	const char *column = setting_tenant_column();
	return pg_eval([column] { return PointerGetDatum(cstring_to_text(column)); });
}

// tenant_backup._stored_tenant(text): the form the catalog records a tenant value in (for
// backup_list; a spelling refused as a new tenant is looked up as given).
TB_SQL_FUNCTION(tenant_backup_stored_tenant) {
	// STRICT: never NULL
	std::optional<std::string> tenant = bounded_text_arg(fcinfo, 0, "tenant", kMaxTenantBytes, true);
	spi_begin();
	std::string stored = lookup_tenant(*tenant);
	spi_end();
	const char *s = stored.c_str();
	return pg_eval([s] { return PointerGetDatum(cstring_to_text(s)); });
}

// tenant_backup._refuse_on_standby(text): the same refusal as every writing C function's
// (boundary/standby.hpp), for the PL/pgSQL functions that write (backup_register_table,
// backup_exclude_table).
TB_SQL_FUNCTION(tenant_backup_refuse_on_standby) {
	std::string function = required_text_arg(fcinfo, 0, "function", 64);
	refuse_on_standby(function.c_str());
	PG_RETURN_VOID();
}

// tenant_backup.tenant_writing(tenant text) RETURNS void (issue 21): a writer of a tenant's rows,
// first in its transaction, takes the shared side of the tenant's lock (the one a restore holds
// exclusively, catalog.hpp lock_tenant) until the transaction ends. It waits while a restore of
// that tenant runs, and a restore waits for it; writers of one tenant, backups and other tenants
// never wait for each other. The tenant is taken in the spelling the catalog records.
TB_SQL_FUNCTION(tenant_writing) {
	refuse_on_standby("tenant_writing");
	std::string tenant = required_text_arg(fcinfo, 0, "tenant", kMaxTenantBytes);
	spi_begin();
	std::string stored = lookup_tenant(tenant);
	spi_end();
	lock_tenant(stored, false);
	PG_RETURN_VOID();
}
