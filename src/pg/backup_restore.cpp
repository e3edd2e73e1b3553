// tenant_backup.backup_restore(backup_id bigint)
//   RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint)
//
// Replaces the tenant's rows in every table of the backup with the archived rows, inside the
// caller's transaction: the archive's SHA-256 is checked first, then per table DELETE + COPY FROM,
// then sequences and foreign keys. Any error aborts the transaction, leaving the tenant as it was.
// User triggers do not fire (session_replication_role = replica while loading), as with
// pg_restore --disable-triggers: a restore brings back data, it does not replay business logic.
#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "pg/archive_access.hpp"
#include "pg/catalog.hpp"
#include "pg/copy_loader.hpp"
#include "pg/guard.hpp"
#include "pg/restore_checks.hpp"
#include "pg/spi.hpp"
#include "pg/tenant_tables.hpp"

namespace tb::pg {

namespace {

struct TableResult {
	std::string name;
	uint64 removed, restored;
};

void emit_results(FunctionCallInfo fcinfo, const std::vector<TableResult> &results) {
	for (const auto &r : results) {
		const char *name = r.name.c_str();
		uint64 removed = r.removed, restored = r.restored;
		pg_call([=] {
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			Datum values[3] = {CStringGetTextDatum(name), Int64GetDatum(static_cast<int64>(removed)),
			                   Int64GetDatum(static_cast<int64>(restored))};
			bool nulls[3] = {false, false, false};
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		});
	}
}

} // namespace

} // namespace tb::pg

using namespace tb::pg;

TB_SQL_FUNCTION(backup_restore) {
	int64 id = arg_int64(fcinfo, 0, "backup_id");
	pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
	spi_begin();
	AuditedAction audit("restore", "", id);
	OpenedBackup opened =
	    open_backup(authorize_backup(id, "restored", "backup.restore", audit), "nothing was restored", true);
	const StoredBackup &backup = opened.backup;
	tb::archive::ArchiveReader &reader = *opened.reader;

	// Triggers off while loading; restored when this nest level ends (also on error, by abort).
	int nest_level = pg_eval([] {
		int level = NewGUCNestLevel();
		set_config_option("session_replication_role", "replica", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
		                  false);
		return level;
	});

	ForeignKeyChecks foreign_keys;
	std::vector<RestoredTable> restored;
	std::vector<TableResult> results;
	while (std::optional<tb::archive::TableHeader> table = reader.next_table()) {
		RestoredTable r{plan_table_restore(*table, id), 0};
		r.tenant = tenant_datum(backup.tenant, r.plan.tenant_type, table->tenant_column, r.plan.display_name);
		uint64 removed = foreign_keys.delete_tenant_rows(r);

		tb::archive::TableRows rows(reader);
		std::unique_ptr<tb::archive::TupleFieldFilter> filter;
		if (r.plan.drops_fields)
			filter = std::make_unique<tb::archive::TupleFieldFilter>(rows, r.plan.keep);
		tb::archive::CopyBinaryFrame stream(filter ? static_cast<tb::Source &>(*filter) : rows);
		uint64 loaded = copy_into(r.plan.relid, r.plan.load, stream);
		if (loaded != reader.table_rows())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           r.plan.display_name + " loaded " + std::to_string(loaded) +
			                                           " rows, the archive records " +
			                                           std::to_string(reader.table_rows()));
		pg_call([] { CommandCounterIncrement(); });
		advance_sequences(r);
		results.push_back({r.plan.display_name, removed, loaded});
		restored.push_back(std::move(r));
	}
	pg_call([nest_level] { AtEOXact_GUC(true, nest_level); });
	foreign_keys.check(restored, id);
	audit.ok();
	spi_end();
	emit_results(fcinfo, results);
	return 0;
}
