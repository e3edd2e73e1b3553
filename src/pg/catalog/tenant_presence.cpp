#include "pg/catalog/tenant_presence.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"

extern "C" {
#include "utils/acl.h"
#include "utils/rls.h"
}

namespace tb::pg {

bool tenant_has_rows(const std::string &tenant, const std::vector<TenantTable> &tables) {
	for (const auto &t : tables) {
		if (!supported_tenant_type(t.tenant_type))
			continue;
		// Built-in input functions only (a supported type); a value the type does not take is
		// rolled back in its subtransaction and means no rows there.
		Oid type = t.tenant_type;
		const char *value = tenant.c_str();
		Datum datum = 0;
		bool cast = pg_eval([&] {
			return pg_try([&] {
				Oid input, ioparam;
				getTypeInputInfo(type, &input, &ioparam);
				datum = OidInputFunctionCall(input, const_cast<char *>(value), ioparam, -1);
			});
		});
		if (!cast)
			continue;
		// A table the caller may not read, or sees through row-level security, may hold rows of
		// the tenant: no NOTICE is better than a false one.
		Oid relid = t.relid;
		bool readable = pg_eval([relid] {
			Oid user = GetUserId();
			return pg_namespace_aclcheck(get_rel_namespace(relid), user, ACL_USAGE) == ACLCHECK_OK &&
			       pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK &&
			       check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED;
		});
		if (!readable)
			return true;
		std::string sql = "SELECT EXISTS (" + t.select_sql() + ")";
		const char *query = sql.c_str();
		bool found = pg_eval([&] {
			Oid types[1] = {type};
			Datum values[1] = {datum};
			spi_run(query, 1, types, values, nullptr, true, SPI_OK_SELECT);
			bool isnull;
			return DatumGetBool(spi_datum(0, 1, &isnull));
		});
		if (found)
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

} // namespace tb::pg
