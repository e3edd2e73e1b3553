// tenant_backup.backup_diff(backup_id bigint, other_backup_id bigint DEFAULT NULL)
//   RETURNS TABLE (table_name text, matched_by text, only_in_backup bigint, only_live bigint,
//                  changed bigint, unchanged bigint)
// tenant_backup.backup_diff_rows(backup_id bigint, other_backup_id bigint DEFAULT NULL,
//                                max_rows integer DEFAULT 1000)
//   RETURNS TABLE (table_name text, kind text, key jsonb, before jsonb, after jsonb)
//
// Compares a backup with its tenant's rows now, or with another backup of the same tenant (whose
// rows then play "now": before, only_live), table by table, with the diff engine
// (archive/diff_engine.hpp): rows only in the backup (a restore adds them back), only live (a
// restore removes them), changed (the same key, other values) and unchanged. The counts need
// backup.view; the rows, which show their contents, backup.download. Both are audited. The tenant
// is locked as a backup locks it (shared), and tables are read under ACCESS SHARE, as a backup.
// Temporary tables hold the archive's rows, so a hot standby refuses these functions.
#include "pg/archive/diff_engine.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/standby.hpp"

namespace tb::pg {

namespace {

struct DiffArguments {
	OpenedBackup backup;
	std::optional<OpenedBackup> other;
};

DiffArguments open_compared(FunctionCallInfo fcinfo, const char *permission, AuditedAction &audit) {
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	bool has_other = pg_eval([fcinfo] { return !PG_ARGISNULL(1); });
	int64 other_id = has_other ? arg_int64(fcinfo, 1, "other_backup_id") : 0;
	StoredBackup a = authorize_backup(id, "compared", permission, audit);
	std::optional<StoredBackup> b;
	if (has_other) {
		b = authorize_backup(other_id, "compared", permission, audit);
		if (b->tenant != a.tenant)
			throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
			               "backups " + std::to_string(id) + " and " + std::to_string(other_id) +
			                   " are of different tenants; only backups of one tenant compare",
			               "", "Compare each with its tenant's rows now: tenant_backup.backup_diff(id).");
		audit.set_tenant(a.tenant);
	}
	DiffArguments d{open_backup(a, "nothing was compared", false), std::nullopt};
	if (b)
		d.other = open_backup(*b, "nothing was compared", false);
	return d;
}

Datum jsonb_or_null(const std::optional<std::string> &text, bool *isnull) {
	*isnull = !text;
	if (!text)
		return 0;
	const char *t = text->c_str();
	return pg_eval([t] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(t)); });
}

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_diff) {
	refuse_on_standby("backup_diff");
	AuditedAction audit("diff"); // first: a refused argument is a failed attempt too
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	DiffArguments d = open_compared(fcinfo, "backup.view", audit);
	compare_backup(
	    d.backup, d.other ? &*d.other : nullptr, PlanPurpose::Compare,
	    [&](const RestoredTable &t, const Comparison &c) {
		    DiffCounts n = count_differences(c);
		    std::string name = t.plan.display_name;
		    pg_call([&] {
			    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			    Datum values[6] = {CStringGetTextDatum(name.c_str()),
			                       CStringGetTextDatum(c.key.matched_by.c_str()),
			                       Int64GetDatum(static_cast<int64>(n.only_in_backup)),
			                       Int64GetDatum(static_cast<int64>(n.only_live)),
			                       Int64GetDatum(static_cast<int64>(n.changed)),
			                       Int64GetDatum(static_cast<int64>(n.unchanged))};
			    bool nulls[6] = {false, false, false, false, false, false};
			    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		    });
	    },
	    nullptr, true);
	audit.ok();
	spi_end();
	return 0;
}

TB_SQL_FUNCTION(backup_diff_rows) {
	refuse_on_standby("backup_diff_rows");
	AuditedAction audit("diff_rows"); // first: a refused argument is a failed attempt too
	int64 limit = pg_eval([fcinfo] { return PG_ARGISNULL(2) ? int64{-1} : int64{PG_GETARG_INT32(2)}; });
	if (limit < 0)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "max_rows must be zero or more");
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	DiffArguments d = open_compared(fcinfo, "backup.download", audit);
	int64 left = limit;
	compare_backup(d.backup, d.other ? &*d.other : nullptr, PlanPurpose::Compare,
	               [&](const RestoredTable &t, const Comparison &c) {
		               if (left <= 0)
			               return;
		               std::string name = t.plan.display_name;
		               left -= static_cast<int64>(list_differences(c, left, [&](const DiffRow &row) {
			               Datum values[5];
			               bool nulls[5] = {false, false, false, false, false};
			               values[2] = jsonb_or_null(row.key, &nulls[2]);
			               values[3] = jsonb_or_null(row.before, &nulls[3]);
			               values[4] = jsonb_or_null(row.after, &nulls[4]);
			               pg_call([&] {
				               auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
				               values[0] = CStringGetTextDatum(name.c_str());
				               values[1] = CStringGetTextDatum(row.kind.c_str());
				               tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			               });
		               }));
	               });
	audit.ok_independently(); // the rows leave even if the caller's transaction rolls back
	spi_end();
	return 0;
}
