#include "pg/archive/restore_drill.hpp"

#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "core/archive/tenant_field_check.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/archived_tuples.hpp"
#include "pg/archive/citus_tables.hpp"
#include "pg/archive/column_mapping.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/archive/foreign_keys.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/archive/restore_plan.hpp"
#include "pg/archive/sequences.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/boundary/subtransaction.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/catalog/read_privileges.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <map>

namespace tb::pg {

namespace {

// Thrown at the end of a drill that got through, so that in_subtransaction rolls it back.
struct DrillDone {};

int drill_counter = 0;

// A temporary table with the columns, defaults, NOT NULL and CHECK constraints of the table, owned
// by the role that loads it (the table's owner when a superuser drills).
Oid temporary_copy(const TableRestorePlan &plan) {
	std::string name = "tenant_backup_drill_" + std::to_string(++drill_counter);
	std::string create = "CREATE TEMP TABLE pg_temp." + name + " (LIKE " + plan.qualified +
	                     " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY)";
	AsTableOwner owner(plan.relid, AsTableOwner::Mode::Plain);
	const char *q = create.c_str(), *n = name.c_str();
	return pg_eval([q, n] {
		spi_run(q, SqlParams(), false, SPI_OK_UTILITY);
		return RangeVarGetRelid(makeRangeVar(pstrdup("pg_temp"), pstrdup(n), -1), NoLock, false);
	});
}

void run_drill(const StoredBackup &authorized, DrillOutcome &out) {
	int64 id = authorized.id;
	std::string source = "backup " + std::to_string(id);
	require_sequence_privileges(catalog_tables(id), id, authorized.tenant);
	refuse_citus_tables_of_backup(id);
	OpenedBackup opened = open_backup(authorized, "the restore would fail", false);
	archive::ArchiveReader &reader = *opened.reader;
	std::vector<TenantTable> now = load_tenant_tables();
	std::map<std::string, RestoredTable> planned;
	for (const auto &entry :
	     archive::read_archive_index(*opened.storage, opened.backup.object_name, reader_options(opened.backup))) {
		std::unique_ptr<archive::ArchiveReader> one = archive::open_archive_table(
		    *opened.storage, opened.backup.object_name, reader_options(opened.backup), entry);
		std::optional<archive::TableHeader> table = one->next_table();
		if (!table)
			throw SqlError(ERRCODE_DATA_CORRUPTED,
			               "archive of " + source + " is damaged: its index names a table it lacks");
		RestoredTable r{plan_table_restore(*table, id, now), 0};
		if (!r.plan.dropped)
			r.tenant = tenant_datum(opened.backup.tenant, r.plan.tenant_type, r.plan.table.tenant_value_column(),
			                        r.plan.display_name);
		planned.emplace(table->schema + "." + table->name, std::move(r));
	}
	while (std::optional<archive::TableHeader> table = reader.next_table()) {
		auto found = planned.find(table->schema + "." + table->name);
		if (found == planned.end())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of " + source + " is damaged: table " + table->schema +
			                                           "." + table->name + " is not in its index");
		const RestoredTable &r = found->second;
		if (r.plan.dropped)
			continue; // a restore skips it too (with the WARNING the plan gave)
		Oid copy = temporary_copy(r.plan);
		// As a restore reads them (archived_tuples.hpp): the tenant checked, the columns mapped.
		ArchivedTuples archived(reader, *table, r, id, "the restore would fail");
		uint64 loaded;
		{
			LoadingScope loading(r.plan.relid);
			loaded = copy_into(copy, r.plan.load, archived.copy_stream());
		}
		if (loaded != reader.table_rows())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of " + source + " is damaged: table " +
			                                           r.plan.display_name + " loaded " + std::to_string(loaded) +
			                                           " rows, the archive records " +
			                                           std::to_string(reader.table_rows()));
		out.tables++;
		out.rows += static_cast<int64>(loaded);
	}
	throw DrillDone{};
}

void record_outcome(int64 id, const DrillOutcome &out) {
	AsExtensionOwner owner; // the catalog is the extension's own
	SqlParams outcome = SqlParams().int8(id).text(std::string(out.ok ? "ok" : "failed"));
	outcome.text(out.ok ? std::nullopt : SqlValue(out.error));
	pg_call([&] {
		spi_run("UPDATE tenant_backup.backups SET drilled_at = clock_timestamp(), drill_status = $2, "
		        "drill_error = $3 WHERE id = $1",
		        outcome, false, SPI_OK_UPDATE);
	});
}

} // namespace

DrillOutcome drill_backup(const StoredBackup &backup) {
	DrillOutcome out;
	std::exception_ptr failure = in_subtransaction([&] { run_drill(backup, out); });
	try {
		if (failure)
			std::rethrow_exception(failure);
	} catch (const DrillDone &) {
		out.ok = true;
	} catch (...) {
		out = DrillOutcome{};
		out.error = detail::error_text(std::current_exception());
	}
	record_outcome(backup.id, out);
	if (!out.ok) {
		const char *tenant = backup.tenant.c_str(), *error = out.error.c_str();
		int64 id = backup.id;
		pg_call([tenant, error, id] {
			ereport(WARNING, (errmsg("restore drill of backup %lld of tenant \"%s\" failed: %s",
			                         static_cast<long long>(id), tenant, error)));
		});
	}
	return out;
}

} // namespace tb::pg
