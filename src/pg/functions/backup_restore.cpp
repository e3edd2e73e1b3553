// tenant_backup.backup_restore(backup_id bigint [, strict boolean])
//   RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint)
// tenant_backup.backup_restore(backup_id bigint, dry_run tenant_backup.named_boolean,
//                              pre_restore_backup boolean DEFAULT NULL, mode text DEFAULT 'exact',
//                              tables regclass[] DEFAULT NULL, strict boolean DEFAULT false,
//                              rows jsonb DEFAULT NULL)
//   RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint, only_in_backup bigint,
//                  only_live bigint, changed bigint, unchanged bigint, pre_restore_backup_id bigint)
//
// Replaces the tenant's rows in every table of the backup with the archived rows, atomically,
// inside the caller's transaction (archive/restore.hpp, run_restore: the one entry, which the
// jobs of backup_restore_async, in every form and with the same options, run too). Issue 21: the
// restore first backs up the tenant as it is (pre_restore; its id is in the second form's result,
// backup_list shows it); dry_run => true previews it with the diff engine and changes nothing;
// mode => 'missing' only re-inserts rows whose key is gone; tables => aims it at some tables,
// rows => at some rows and the rows that reference them (RestoreOptions, archive/restore.hpp,
// archive/row_aim.hpp).
#include "pg/archive/restore.hpp"
#include "pg/archive/restore_request.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/scheduler/async_jobs.hpp"

#include <optional>
#include <set>

using namespace tb::pg;

namespace {

void emit_results(FunctionCallInfo fcinfo, const std::vector<RestoredTableResult> &results) {
	for (const auto &r : results) {
		const char *name = r.name.c_str();
		uint64 removed = r.removed, restored = r.restored;
		bool skipped = r.skipped; // a table dropped since: listed with NULL counts
		pg_call([=] {
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			Datum values[3] = {CStringGetTextDatum(name), Int64GetDatum(static_cast<int64>(removed)),
			                   Int64GetDatum(static_cast<int64>(restored))};
			bool nulls[3] = {false, skipped, skipped};
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		});
	}
}
// The second form's rows: the diff of a preview, the pre_restore backup of a restore.
void emit_wide_results(FunctionCallInfo fcinfo, const std::vector<RestoredTableResult> &results,
                       std::optional<int64> pre_restore_id) {
	for (const auto &r : results) {
		const char *name = r.name.c_str();
		pg_call([&] {
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			Datum values[8] = {CStringGetTextDatum(name), Int64GetDatum(static_cast<int64>(r.removed)),
			                   Int64GetDatum(static_cast<int64>(r.restored))};
			bool nulls[8] = {false, r.skipped, r.skipped, true, true, true, true, true}; // skipped: dropped since
			if (r.diff)
				for (int i = 0; i < 4; i++) {
					values[3 + i] = Int64GetDatum(static_cast<int64>((*r.diff)[i]));
					nulls[3 + i] = false;
				}
			if (pre_restore_id) {
				values[7] = Int64GetDatum(*pre_restore_id);
				nulls[7] = false;
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		});
	}
}

// The tables => argument (regclass[]): each table's "schema.name", as the archive names it. A
// regclass names existing tables only, resolved by PostgreSQL: no text becomes SQL.
std::optional<std::set<std::string>> table_names_arg(FunctionCallInfo fcinfo, int n) {
	bool isnull = pg_eval([fcinfo, n] { return PG_ARGISNULL(n); });
	if (isnull)
		return std::nullopt;
	std::vector<Oid> oids;
	pg_call([&] {
		ArrayType *array = PG_GETARG_ARRAYTYPE_P(n);
		Datum *values;
		bool *nulls;
		int count;
		deconstruct_array(array, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &values, &nulls, &count);
		for (int i = 0; i < count; i++)
			if (!nulls[i])
				oids.push_back(DatumGetObjectId(values[i]));
	});
	std::set<std::string> names;
	for (Oid oid : oids) {
		const char *schema = nullptr, *name = nullptr;
		pg_call([&] {
			name = get_rel_name(oid);
			schema = name ? get_namespace_name(get_rel_namespace(oid)) : nullptr;
		});
		if (name && schema)
			names.insert(std::string(schema) + "." + name);
	}
	if (names.empty())
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "tables must name at least one table", "",
		               "Leave it out (NULL) to restore every table of the backup.");
	return names;
}

// The options form's arguments after backup_id (dry_run, pre_restore_backup, mode, tables,
// strict, rows), for backup_restore and backup_restore_async alike: one reading of them.
RestoreRequest restore_request_args(FunctionCallInfo fcinfo) {
	if (pg_eval([fcinfo] { return PG_ARGISNULL(1); }))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "dry_run must not be NULL");
	RestoreRequest request;
	request.dry_run = pg_eval([fcinfo] { return PG_GETARG_BOOL(1); });
	RestoreOptions &options = request.options;
	pg_call([&] {
		if (!PG_ARGISNULL(2))
			options.pre_restore = PG_GETARG_BOOL(2);
	});
	std::optional<std::string> mode = bounded_text_arg(fcinfo, 3, "mode", 16, false);
	if (!mode || (*mode != "exact" && *mode != "missing"))
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "mode must be 'exact' or 'missing'");
	options.missing = *mode == "missing";
	options.tables = table_names_arg(fcinfo, 4);
	options.strict = pg_eval([fcinfo] { return !PG_ARGISNULL(5) && PG_GETARG_BOOL(5); });
	// rows => (jsonb): its text, never SQL (archive/row_aim.hpp parses it with jsonb functions).
	const char *rows = pg_eval([fcinfo] {
		if (PG_NARGS() <= 6 || PG_ARGISNULL(6))
			return static_cast<const char *>(nullptr);
		return static_cast<const char *>(DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(6))));
	});
	if (rows)
		options.rows = std::string(rows);
	return request;
}

// backup_restore(backup_id, strict) (issue 20) and backup_restore(backup_id): every option's default.
RestoreRequest strict_form_request(FunctionCallInfo fcinfo) {
	RestoreRequest request;
	request.options.strict = pg_eval([fcinfo] { return PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1); });
	return request;
}

// Checked as the synchronous call checks before it changes anything, then queued
// (scheduler/async_jobs.hpp) with the request, which the job's worker runs through run_restore.
// A job holds a background worker slot while it runs, so even a preview job is checked as a
// restore (backup.restore, the restore's privileges): a role that may only look at a tenant's
// backups (backup.view, enough for a preview in its own session) cannot take the slots that
// scheduled backups, parallel queries and the audit writer need.
Datum submit_restore(AuditedAction &audit, int64 id, const RestoreRequest &request) {
	spi_begin();
	RestoreRequest checked_as = request;
	checked_as.dry_run = false;
	StoredBackup backup = check_restore_request(id, audit, checked_as);
	int64 job = submit_async_job(request.dry_run ? "preview" : "restore", backup.tenant, id, std::nullopt,
	                             request.options.strict, restore_request_json(request));
	audit.ok("job " + std::to_string(job));
	spi_end();
	return Int64GetDatum(job);
}

} // namespace

TB_SQL_FUNCTION(backup_restore_with_options) {
	refuse_on_standby("backup_restore");
	bool dry_run = pg_eval([fcinfo] { return !PG_ARGISNULL(1) && PG_GETARG_BOOL(1); });
	AuditedAction audit(dry_run ? "restore_preview" : "restore"); // first: a refused argument is audited too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	RestoreRequest request = restore_request_args(fcinfo);
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	RestoreOutcome outcome = run_restore(id, audit, request);
	spi_end();
	emit_wide_results(fcinfo, outcome.tables, outcome.pre_restore_backup);
	return 0;
}

TB_SQL_FUNCTION(backup_restore) {
	refuse_on_standby("backup_restore");
	AuditedAction audit("restore"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	RestoreRequest request = strict_form_request(fcinfo);
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	RestoreOutcome outcome = run_restore(id, audit, request);
	spi_end();
	emit_results(fcinfo, outcome.tables);
	return 0;
}

// tenant_backup.backup_restore_async(backup_id bigint [, strict boolean]) RETURNS bigint: the same
// restore, run by a background worker as the current user once the calling transaction commits
// (async_jobs.hpp); checked here first as backup_restore checks before it changes anything.
// Returns the job's id at once: tenant_backup.backup_job(id) tells how it went (its result, and
// the pre_restore backup that undoes it), backup_progress shows it running.
TB_SQL_FUNCTION(backup_restore_async) {
	refuse_on_standby("backup_restore_async");
	AuditedAction audit("restore_async"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	return submit_restore(audit, id, strict_form_request(fcinfo));
}

// tenant_backup.backup_restore_async(backup_id bigint, dry_run tenant_backup.named_boolean,
// pre_restore_backup, mode, tables, strict, rows) RETURNS bigint: backup_restore's options form,
// asynchronously; the job runs exactly what that call would (a preview with dry_run => true).
TB_SQL_FUNCTION(backup_restore_async_with_options) {
	refuse_on_standby("backup_restore_async");
	AuditedAction audit("restore_async"); // first: a refused argument is a failed attempt too
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	audit.set_backup(id);
	return submit_restore(audit, id, restore_request_args(fcinfo));
}
