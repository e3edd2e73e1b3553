#include "pg/archive/citus_tables.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/spi.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace tb::pg {

bool citus_installed() {
	return pg_eval([] { return OidIsValid(get_extension_oid("citus", true)); });
}

void refuse_citus_table(Oid relid, const std::string &display_name, const std::string &what) {
	// partmethod: 'h' hash (distributed), 'n' none (reference or Citus local), 'a'/'r' append/range.
	char *method = nullptr;
	SqlParams of_table = SqlParams().oid(relid);
	pg_call([&] {
		if (spi_run("SELECT partmethod::pg_catalog.text FROM pg_catalog.pg_dist_partition "
		            "WHERE logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
		            of_table, true, SPI_OK_SELECT) > 0)
			method = spi_text(0, 1);
	});
	if (!method)
		return;
	std::string kind = method[0] == 'n' ? "a Citus reference or local table" : "a Citus distributed table";
	throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
	               "cannot restore into table " + display_name + ": it is " + kind + "; " + what,
	               "tenant_backup does not restore Citus tables yet: rows loaded on the coordinator would land "
	               "in its local shell table, where Citus does not see them.",
	               "Restore this tenant's rows of Citus tables by other means until Citus is supported.");
}

void refuse_citus_tables_of_backup(int64 backup_id) {
	if (!citus_installed())
		return;
	std::vector<std::pair<std::string, std::string>> names;
	{
		AsExtensionOwner owner; // the catalog is read as its owner
		SqlParams of_backup = SqlParams().int8(backup_id);
		uint64 rows = pg_eval([&] {
			return spi_run("SELECT t OPERATOR(pg_catalog.->>) 'schema', t OPERATOR(pg_catalog.->>) 'name' "
			               "FROM tenant_backup.backups b, pg_catalog.jsonb_array_elements(b.tables) t "
			               "WHERE b.id OPERATOR(pg_catalog.=) $1",
			               of_backup, true, SPI_OK_SELECT);
		});
		for (uint64 r = 0; r < rows; r++) {
			char *schema = nullptr, *name = nullptr;
			pg_call([&] {
				schema = spi_text(r, 1);
				name = spi_text(r, 2);
			});
			if (schema && name)
				names.emplace_back(schema, name);
		}
	}
	for (const auto &[schema, name] : names) {
		const char *s = schema.c_str(), *n = name.c_str();
		Oid relid =
		    pg_eval([s, n] { return RangeVarGetRelid(makeRangeVar(pstrdup(s), pstrdup(n), -1), NoLock, true); });
		if (OidIsValid(relid))
			refuse_citus_table(relid, schema + "." + name, "nothing was restored");
	}
}

} // namespace tb::pg
