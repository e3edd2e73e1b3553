// Key management from SQL:
//   tenant_backup.backup_rotate_master_key() RETURNS bigint
//   tenant_backup.backup_forget_tenant(tenant text) RETURNS text
#include "pg/catalog/audit.hpp"
#include "pg/catalog/backup_copies.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/repository/self_description.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/catalog/keys.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <algorithm>

using namespace tb::pg;

// Re-wraps every tenant data key under the current (first) master key. Archives are not touched:
// they are encrypted with the data keys, which do not change. Then every repository this
// database may write is re-sealed (self_description.hpp, reseal_repository): its records and
// tombstones authenticated, and its key records wrapped, under the current master key, so that
// the old key can be removed from the key source once no repository is left unfinished.
TB_SQL_FUNCTION(backup_rotate_master_key) {
	refuse_on_standby("backup_rotate_master_key");
	AuditedAction audit("rotate_master_key");
	spi_begin();
	require_backup_admin("rotate_master_key", "rotate the master key");
	int64 count = rewrap_data_keys();
	ResealSummary r = reseal_every_repository();
	std::string repositories = std::to_string(r.resealed) + " record(s) re-sealed and " + std::to_string(r.rewrapped) +
	                           " key record(s) re-wrapped in " + std::to_string(r.repositories) + " repository(ies)";
	audit.ok(std::to_string(count) + " data key(s) re-wrapped; " + repositories);
	std::string message = "tenant_backup: " + std::to_string(count) + " data key(s) re-wrapped; " + repositories;
	if (r.left > 0)
		message += "; " + std::to_string(r.left) +
		           " record(s) left as they are: they do not pass their check under a configured master key "
		           "(tenant_backup.backup_sync() lists them)";
	for (const std::string &ro : r.read_only)
		message += "; repository " + ro + " is registered read-only here: not re-sealed";
	notice(message);
	for (const std::string &u : r.unfinished)
		warn("tenant_backup: the repository " + u + " is not re-sealed under the new master key yet",
		     "Keep the old master key listed after the new one: tenant_backup.backup_sync() (and the periodic "
		     "sync) goes on with it, or run tenant_backup.backup_rotate_master_key() again.");
	spi_end();
	return Int64GetDatum(count);
}

namespace {

// Every tenant spelling the catalog holds backups or keys under.
std::vector<std::string> recorded_tenants() {
	AsExtensionOwner owner; // the catalog is the extension's own
	std::vector<std::string> out;
	for (const auto &row : spi_query("SELECT tenant FROM tenant_backup.backups UNION "
	                                 "SELECT tenant FROM tenant_backup.tenant_keys",
	                                 {}, true))
		if (row[0])
			out.push_back(*row[0]);
	return out;
}

struct Forgotten {
	uint64 backups = 0;
	int64 unencrypted = 0;
};

// Removes the backups recorded under one spelling: catalog rows now, archives at commit.
Forgotten forget_backups(const std::string &spelling) {
	AsExtensionOwner owner;
	// Every copy of every archive, in every repository (the copy rows go with the backups rows).
	for (const auto &row : spi_query("SELECT id FROM tenant_backup.backups "
	                                 "WHERE tenant OPERATOR(pg_catalog.=) $1 AND object_name IS NOT NULL",
	                                 {spelling}))
		remove_copies_at_commit(load_backup(std::stoll(*row[0])), "forget_tenant");
	SqlParams of_spelling = {spelling};
	Forgotten f;
	f.backups = pg_eval([&] {
		return spi_run("DELETE FROM tenant_backup.backups WHERE tenant OPERATOR(pg_catalog.=) $1 RETURNING encrypted",
		               of_spelling, false, SPI_OK_DELETE_RETURNING);
	});
	for (uint64 r = 0; r < f.backups; r++) {
		char *encrypted = nullptr;
		pg_call([&] { encrypted = spi_text(r, 1); });
		if (encrypted && encrypted[0] != 't')
			f.unencrypted++;
	}
	return f;
}

} // namespace

// Crypto-shredding: destroys the tenant's data keys, then its archives and catalog rows.
TB_SQL_FUNCTION(backup_forget_tenant) {
	refuse_on_standby("backup_forget_tenant");
	AuditedAction audit("forget_tenant"); // first: a refused argument is a failed attempt too
	std::optional<std::string> tenant = arg_text(fcinfo, 0);
	if (!tenant)
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant must not be NULL");
	audit.set_tenant(*tenant); // as given, until its stored spelling is known
	check_text_arg(*tenant, "tenant", 1024, false);
	spi_begin();
	require_backup_admin("forget_tenant", "forget a tenant");
	// The tenant's one spelling (' 7' -> '7'; a spelling that names two tenants is refused), and
	// every other spelling the catalog holds of the same tenant: backups and keys recorded under
	// ' 7', '07' or '+7' (before 0.2.0, with integer and text tenant columns side by side) are
	// tenant 7's integer rows and keys as well.
	std::string stored = stored_tenant(*tenant);
	audit.set_tenant(stored);
	std::vector<std::string> spellings = tenant_spellings(stored, recorded_tenants());
	spellings.erase(std::remove(spellings.begin(), spellings.end(), stored), spellings.end());
	std::sort(spellings.begin(), spellings.end());
	spellings.insert(spellings.begin(), stored);
	for (const auto &s : spellings)
		lock_tenant(s, true);
	Forgotten total;
	int64 keys = 0;
	std::string others;
	std::vector<std::string> unreachable, waiting;
	for (const auto &s : spellings) {
		std::set<std::string> key_prefixes = key_record_prefixes(s); // before its backups go
		Forgotten f = forget_backups(s);
		total.backups += f.backups;
		total.unencrypted += f.unencrypted;
		keys += destroy_data_keys(s);
		for (const std::string &u : forget_key_records(s, key_prefixes)) // its wrapped keys in every repository
			unreachable.push_back(u);
		// Its tombstones: an archive and record of its put back are reported forgotten, not attached.
		for (const std::string &u : tombstone_tenant(s, key_prefixes))
			waiting.push_back(u);
		if (s != stored)
			others += std::string(others.empty() ? "" : ", ") + "\"" + s + "\"";
	}
	audit.ok(others.empty() ? "" : "also recorded as " + others);
	spi_end();

	std::string message = "tenant \"" + stored + "\"" + (others.empty() ? "" : " (also recorded as " + others + ")") +
	                      " forgotten: " + std::to_string(total.backups) + " backup(s) deleted, " +
	                      std::to_string(keys) + " encryption key(s) destroyed; ";
	if (total.unencrypted > 0)
		message += std::to_string(total.unencrypted) +
		           " of its backups were NOT encrypted, so copies of those archives made elsewhere remain readable";
	else if (total.backups > 0)
		message += "copies of its archives, wherever they are, can no longer be decrypted";
	else
		message += "it had no backups";
	// Key records (self_description.hpp) are removed from every repository at commit; where a
	// repository could not be listed, its copies of the tenant's wrapped keys remain.
	for (const std::string &u : unreachable)
		message += "; NOT REACHED, its wrapped keys may remain in repository " + u;
	for (const std::string &u : waiting)
		message += "; its tombstone waits for tenant_backup.backup_sync() in repository " + u;
	const char *m = message.c_str();
	return pg_eval([m] { return PointerGetDatum(cstring_to_text(m)); });
}
