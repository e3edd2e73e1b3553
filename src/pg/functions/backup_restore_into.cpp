// tenant_backup.backup_restore_into(backup_id bigint, target_schema name)
//   RETURNS TABLE (table_name text, restored_as text, rows_restored bigint)
//
// Side by side (issue 21): the backup's tables, with the tenant's rows, in a new schema owned by
// the caller (archive/restore_into.hpp); production rows are not touched. Shows row contents:
// backup.download. Audited outside the caller's transaction (the rows were shown even if it rolls
// back), as a download is.
#include "pg/archive/restore_into.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/catalog.hpp"

using namespace tb::pg;

TB_SQL_FUNCTION(backup_restore_into) {
	refuse_on_standby("backup_restore_into");
	AuditedAction audit("restore_into"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	const char *name = pg_eval([fcinfo] {
		return PG_ARGISNULL(1) ? static_cast<const char *>(nullptr)
		                       : static_cast<const char *>(pstrdup(NameStr(*PG_GETARG_NAME(1))));
	});
	if (!name || !*name)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "target_schema must name a schema", "",
		               "backup_restore_into creates it, owned by you.");
	std::string schema = name;
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	std::vector<MaterializedTable> tables = restore_into_schema(id, schema, audit);
	audit.ok_independently("into schema " + schema);
	spi_end();
	for (const auto &t : tables) {
		const char *table = t.table.c_str(), *as = t.restored_as.c_str();
		int64 rows = static_cast<int64>(t.rows);
		pg_call([=] {
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			Datum values[3] = {CStringGetTextDatum(table), CStringGetTextDatum(as), Int64GetDatum(rows)};
			bool nulls[3] = {false, false, false};
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		});
	}
	return 0;
}
