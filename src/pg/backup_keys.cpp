// Key management from SQL:
//   tenant_backup.backup_rotate_master_key() RETURNS bigint
//   tenant_backup.backup_forget_tenant(tenant text) RETURNS text
#include "pg/audit.hpp"
#include "pg/backup_copies.hpp"
#include "pg/catalog.hpp"
#include "pg/permissions.hpp"
#include "pg/guard.hpp"
#include "pg/keys.hpp"
#include "pg/spi.hpp"
#include "pg/tenant_tables.hpp"

using namespace tb::pg;

// Re-wraps every tenant data key under the current (first) master key. Archives are not touched:
// they are encrypted with the data keys, which do not change.
TB_SQL_FUNCTION(backup_rotate_master_key) {
	spi_begin();
	require_backup_admin("rotate_master_key", "rotate the master key");
	AuditedAction audit("rotate_master_key");
	int64 count = rewrap_data_keys();
	audit.ok(std::to_string(count) + " data key(s) re-wrapped");
	spi_end();
	return Int64GetDatum(count);
}

// Crypto-shredding: destroys the tenant's data keys, then its archives and catalog rows.
TB_SQL_FUNCTION(backup_forget_tenant) {
	std::optional<std::string> tenant = arg_text(fcinfo, 0);
	if (!tenant)
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant must not be NULL");
	check_text_arg(*tenant, "tenant", 1024, false);
	spi_begin();
	require_backup_admin("forget_tenant", "forget a tenant");
	// Backups record the tenant in its canonical form (' 7' -> '7'): forget that one, and the
	// value as given too, in case it was recorded as given.
	std::string stored = stored_tenant(*tenant);
	AuditedAction audit("forget_tenant", stored);
	lock_tenant(stored, true);
	const char *t = stored.c_str(), *given = tenant->c_str();
	AsExtensionOwner owner;
	// Every copy of every archive, in every repository (the copy rows go with the backups rows).
	for (const auto &row : spi_query("SELECT id FROM tenant_backup.backups WHERE tenant IN ($1, $2) "
	                                 "AND object_name IS NOT NULL",
	                                 {stored, *tenant}))
		remove_copies_at_commit(load_backup(std::stoll(*row[0])));
	uint64 rows = pg_eval([t, given] {
		Oid types[2] = {TEXTOID, TEXTOID};
		Datum values[2] = {CStringGetTextDatum(t), CStringGetTextDatum(given)};
		return spi_run("DELETE FROM tenant_backup.backups WHERE tenant IN ($1, $2) RETURNING encrypted", 2, types,
		               values, nullptr, false, SPI_OK_DELETE_RETURNING);
	});
	int64 unencrypted = 0;
	for (uint64 r = 0; r < rows; r++) {
		char *encrypted = nullptr;
		pg_call([&] { encrypted = spi_text(r, 1); });
		if (encrypted && encrypted[0] != 't')
			unencrypted++;
	}
	int64 keys = destroy_data_keys(stored) + (stored != *tenant ? destroy_data_keys(*tenant) : 0);
	audit.ok();
	spi_end();

	std::string message = "tenant \"" + stored + "\" forgotten: " + std::to_string(rows) + " backup(s) deleted, " +
	                      std::to_string(keys) + " encryption key(s) destroyed; ";
	if (unencrypted > 0)
		message += std::to_string(unencrypted) +
		           " of its backups were NOT encrypted, so copies of those archives made elsewhere remain readable";
	else if (rows > 0)
		message += "copies of its archives, wherever they are, can no longer be decrypted";
	else
		message += "it had no backups";
	const char *m = message.c_str();
	return pg_eval([m] { return PointerGetDatum(cstring_to_text(m)); });
}
