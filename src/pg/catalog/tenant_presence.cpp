#include "pg/catalog/tenant_presence.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"

extern "C" {
#include "utils/acl.h"
#include "utils/rls.h"
}

#include <optional>

namespace tb::pg {

namespace {

// Whether the table has a row of `tenant`: false when its tenant type does not take the value,
// nullopt when the caller cannot read all of it (no USAGE or SELECT, row-level security).
std::optional<bool> table_has_tenant(const TenantTable &t, const std::string &tenant) {
	if (!supported_tenant_type(t.tenant_type))
		return false;
	// Built-in input functions only (a supported type); a value the type does not take is rolled
	// back in its subtransaction and means no rows there.
	Oid type = t.tenant_type;
	const char *value = tenant.c_str();
	Datum datum = 0;
	bool cast = !in_subtransaction([&] {
		pg_call([&] {
			Oid input, ioparam;
			getTypeInputInfo(type, &input, &ioparam);
			datum = OidInputFunctionCall(input, const_cast<char *>(value), ioparam, -1);
		});
	});
	if (!cast)
		return false;
	Oid relid = t.relid;
	bool readable = pg_eval([relid] {
		Oid user = GetUserId();
		return pg_namespace_aclcheck(get_rel_namespace(relid), user, ACL_USAGE) == ACLCHECK_OK &&
		       pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK &&
		       check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED;
	});
	if (!readable)
		return std::nullopt;
	std::string sql = "SELECT EXISTS (" + t.select_sql() + ")";
	const char *query = sql.c_str();
	SqlParams params = SqlParams().datum(type, datum);
	return pg_eval([&] {
		spi_run(query, params, true, SPI_OK_SELECT);
		bool isnull;
		return DatumGetBool(spi_datum(0, 1, &isnull));
	});
}

} // namespace

bool tenant_has_rows(const std::string &tenant, const std::vector<TenantTable> &tables) {
	for (const auto &t : tables) {
		// A table the caller cannot read in full may hold rows of the tenant: no NOTICE is
		// better than a false one.
		std::optional<bool> has = table_has_tenant(t, tenant);
		if (!has || *has)
			return true;
	}
	return false;
}

void notice_tenant_without_rows(const std::string &tenant, const std::string &what) {
	std::string message = "tenant \"" + tenant + "\" has no rows in any tenant table; " + what;
	const char *m = message.c_str();
	pg_call([m] {
		ereport(NOTICE, (errmsg("%s", m),
		                 errhint("Tenant values are compared exactly, and text ones are case-sensitive: check the "
		                         "spelling.")));
	});
}

void require_tenant_in_root_tables(const std::string &tenant, const std::vector<TenantTable> &tables,
                                   const std::string &consequence) {
	std::string roots;
	for (const auto &t : tables) {
		if (t.rows_found_by != "root")
			continue;
		std::optional<bool> has = table_has_tenant(t, tenant);
		if (!has || *has)
			return; // there (or not readable in full: no claim that it is not)
		roots += (roots.empty() ? "" : ", ") + quoted_name(t.schema, t.name);
	}
	if (roots.empty())
		return;
	throw SqlError(ERRCODE_UNDEFINED_OBJECT,
	               "tenant \"" + tenant + "\" does not exist: root table " + roots + " has no row for it; " +
	                   consequence,
	               "The tenant columns reference " + roots + ": each tenant is a row there.",
	               "Tenant values are compared exactly, and text ones are case-sensitive: check the spelling, or "
	               "insert the tenant's row first.");
}

} // namespace tb::pg
