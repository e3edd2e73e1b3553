// tenant_backup.tenant_export_csv(tenant text, tbl regclass) RETURNS SETOF text
//
// A tenant's current rows of one tenant table as CSV (header line first), read through a cursor
// in batches under the statement's snapshot and rendered by each type's output function: memory
// stays bounded whatever the tenant's size.
#include "pg/catalog/permissions.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/catalog/catalog.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"
#include "pg/boundary/text_lines.hpp"

extern "C" {
#include "utils/fmgrprotos.h"
}

namespace tb::pg {
namespace {
constexpr long kFetchRows = 1000;
} // namespace
} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(tenant_export_csv) {
	AuditedAction audit("tenant_export"); // first: a refused argument is a failed attempt too
	std::optional<std::string> tenant = bounded_text_arg(fcinfo, 0, "tenant", kMaxTenantBytes, false);
	if (!tenant)
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant must not be NULL");
	audit.set_tenant(*tenant); // as given, until its stored spelling is known
	if (PG_ARGISNULL(1))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tbl must not be NULL");
	Oid relid = PG_GETARG_OID(1);
	TextLines out(fcinfo);
	spi_begin();
	std::string stored = stored_tenant(*tenant);
	audit.set_tenant(stored);
	require_permission("backup.download", stored, 0, "tenant_export");
	std::optional<TenantTable> found;
	for (auto &t : load_tenant_tables())
		if (t.relid == relid)
			found = std::move(t);
	if (!found) {
		const char *name =
		    pg_eval([relid] { return DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid))); });
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "table " + std::string(name) + " is not a tenant table",
		               "tenant_backup.backup_tables() lists the tenant tables.");
	}
	const TenantTable &t = *found;
	Datum value = tenant_datum(*tenant, t.tenant_type, t.tenant_value_column(), t.display_name());

	std::vector<std::string> names;
	for (const auto &c : t.columns)
		names.push_back(c.name);
	out.put(pg_eval([&] { return static_cast<const char *>(csv_header(names)); }));

	std::string sql = t.select_sql();
	const char *query = sql.c_str();
	Oid type = t.tenant_type;
	Portal portal = pg_eval([=] {
		Oid argtype = type;
		Datum arg = value;
		return SPI_cursor_open_with_args(nullptr, query, 1, &argtype, &arg, nullptr, true, 0);
	});
	int natts = static_cast<int>(t.columns.size());
	std::vector<Oid> types(natts);
	pg_call([&] {
		for (int i = 0; i < natts; i++)
			types[i] = TupleDescAttr(portal->tupDesc, i)->atttypid;
	});
	std::vector<FmgrInfo> output = output_functions(types);
	std::vector<Datum> values(natts);
	std::unique_ptr<bool[]> nulls(new bool[natts + 1]());
	MemoryContext row_context = pg_eval(
	    [] { return AllocSetContextCreate(CurrentMemoryContext, "tenant_backup export row", ALLOCSET_DEFAULT_SIZES); });
	for (;;) {
		uint64 n = pg_eval([portal] {
			SPI_cursor_fetch(portal, true, kFetchRows);
			return SPI_processed;
		});
		if (n == 0)
			break;
		for (uint64 r = 0; r < n; r++) {
			const char *line = pg_eval([&] {
				CHECK_FOR_INTERRUPTS();
				MemoryContextReset(row_context);
				MemoryContext old = MemoryContextSwitchTo(row_context);
				heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values.data(), nulls.get());
				char *csv = csv_line(output.data(), natts, values.data(), nulls.get());
				MemoryContextSwitchTo(old);
				return static_cast<const char *>(csv);
			});
			out.put(line);
		}
		pg_call([] { SPI_freetuptable(SPI_tuptable); });
	}
	pg_call([portal, row_context] {
		SPI_cursor_close(portal);
		MemoryContextDelete(row_context);
	});
	audit.ok_independently(); // the rows leave even if the caller's transaction rolls back
	spi_end();
	return 0;
}
