// The four backup permissions from SQL:
//   tenant_backup.backup_grant(role regrole, permission text, tenant text DEFAULT NULL)
//   tenant_backup.backup_revoke(role regrole, permission text, tenant text DEFAULT NULL)
//   tenant_backup._may(permission text, tenant text) RETURNS boolean (row-level security)
// Grants name the tenant in the form backups record it (stored_tenant, the rule of
// tenant_values.cpp), so that '007' and '7' are the same tenant for an integer tenant column, and
// a spelling that two tenant column types read as different tenants is refused. _may compares
// the spellings as recorded: both sides went through that rule.
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"

extern "C" {
#include "access/detoast.h"
}

namespace tb::pg {

namespace {

struct GrantArgs {
	Oid role;
	std::string permission;
	std::optional<std::string> tenant; // canonical; nullopt: every tenant
};

// A grant names its tenant in its canonical spelling (refusing one that two tenant column types
// read as different tenants); a revoke also finds a grant recorded under such a spelling before
// 0.2.0.
GrantArgs grant_args(FunctionCallInfo fcinfo, bool revoke) {
	if (PG_ARGISNULL(0))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "role must not be NULL");
	std::optional<std::string> permission = arg_text(fcinfo, 1);
	if (!permission || !is_permission_name(*permission))
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
		               "unknown backup permission \"" + permission.value_or("NULL") + "\"", "",
		               "The permissions are backup.view, backup.create, backup.download and backup.restore.");
	GrantArgs args{PG_GETARG_OID(0), *permission, arg_text(fcinfo, 2)};
	if (args.tenant) {
		check_text_arg(*args.tenant, "tenant", kMaxTenantBytes, false);
		args.tenant = revoke ? lookup_tenant(*args.tenant) : stored_tenant(*args.tenant);
	}
	return args;
}

std::string describe(const GrantArgs &a) {
	std::string role = pg_eval([r = a.role] { return static_cast<const char *>(GetUserNameFromId(r, false)); });
	return a.permission + " to role \"" + role + "\" on " +
	       (a.tenant ? "tenant \"" + *a.tenant + "\"" : "every tenant");
}

// Runs sql with $1 role, $2 permission, $3 tenant (NULL: every tenant); returns rows affected.
uint64 change_grant(const char *sql, const GrantArgs &a, int expected) {
	AsExtensionOwner owner;
	SqlParams params = SqlParams().oid(a.role).text(a.permission).text(a.tenant);
	return pg_eval([&] { return spi_run(sql, params, false, expected); });
}

// backup_grant or backup_revoke: admin check, arguments, the change, its audit row; a NOTICE
// when nothing changed.
void grant_or_revoke(FunctionCallInfo fcinfo, const char *action, const char *sql, int expected,
                     const char *unchanged) {
	AuditedAction audit(action); // first: a refused argument is a failed attempt too
	spi_begin();
	require_backup_admin(action, (std::string(action) + " backup permissions").c_str());
	GrantArgs args = grant_args(fcinfo, std::string(action) == "revoke");
	audit.set_tenant(args.tenant.value_or(""));
	uint64 changed = change_grant(sql, args, expected);
	std::string note = describe(args) + (changed ? "" : " (" + std::string(unchanged) + ")");
	if (!changed) {
		const char *m = note.c_str();
		pg_call([m] { ereport(NOTICE, (errmsg("nothing changed: %s", m))); });
	}
	audit.ok(note);
	spi_end();
}

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_grant) {
	refuse_on_standby("backup_grant");
	grant_or_revoke(fcinfo, "grant",
	                "INSERT INTO tenant_backup.permissions (role_id, permission, tenant) "
	                "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
	                SPI_OK_INSERT, "already granted");
	PG_RETURN_VOID();
}

TB_SQL_FUNCTION(backup_revoke) {
	refuse_on_standby("backup_revoke");
	grant_or_revoke(fcinfo, "revoke",
	                "DELETE FROM tenant_backup.permissions "
	                "WHERE role_id = $1 AND permission = $2 AND tenant IS NOT DISTINCT FROM $3",
	                SPI_OK_DELETE, "was not granted");
	PG_RETURN_VOID();
}

TB_SQL_FUNCTION(tenant_backup_may) {
	// STRICT: never NULL. The four names are short.
	std::optional<std::string> permission = bounded_text_arg(fcinfo, 0, "permission", 64, false);
	if (!is_permission_name(*permission))
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "unknown backup permission \"" + *permission + "\"");
	// No grant names a tenant longer than any function takes, so none is looked up: a NULL-tenant
	// grant does not cover one either. Not an error, since row-level security calls this for
	// every catalog row, and one long tenant (from the tenant data, by the scheduler) must not
	// make the catalog unreadable for every role.
	if (pg_eval([fcinfo] { return toast_raw_datum_size(PG_GETARG_DATUM(1)) - VARHDRSZ; }) > kMaxTenantBytes)
		PG_RETURN_BOOL(is_backup_admin(pg_eval([] { return GetUserId(); })));
	// A backup admin may everything: known once per call site and role (this runs for every row
	// of backup_status and of the catalog that row-level security filters, 100,000 at scale).
	struct Admin {
		Oid role;
		bool admin;
	};
	Oid role = pg_eval([] { return GetUserId(); });
	auto *known = static_cast<Admin *>(fcinfo->flinfo->fn_extra);
	if (!known || known->role != role) {
		bool admin = is_backup_admin(role);
		if (!known)
			known = static_cast<Admin *>(
			    pg_eval([fcinfo] { return MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Admin)); }));
		*known = {role, admin};
		fcinfo->flinfo->fn_extra = known;
	}
	if (known->admin)
		PG_RETURN_BOOL(true);
	std::optional<std::string> tenant = arg_text(fcinfo, 1);
	spi_begin();
	bool may = holds_permission(role, permission->c_str(), *tenant); // STRICT: never NULL
	spi_end();
	PG_RETURN_BOOL(may);
}
