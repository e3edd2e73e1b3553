#include "pg/archive/restore.hpp"

#include "core/archive/archive_reader.hpp"
#include "core/archive/copy_binary.hpp"
#include "core/archive/tenant_field_check.hpp"
#include "pg/archive/archive_access.hpp"
#include "pg/archive/citus_tables.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/archive/sequences.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"
#include "pg/shared_memory/progress.hpp"

#include <algorithm>
#include <map>

namespace tb::pg {

namespace {

// The tenant value's bytes as the tenant column's type sends it in binary COPY (built-in types
// only, see check_tenant_type): what every archived row must hold in its tenant field.
std::string tenant_bytes(Oid type, Datum tenant) {
	struct {
		const char *data;
		size_t len;
	} b{};
	pg_call([&] {
		Oid send;
		bool varlena;
		getTypeBinaryOutputInfo(type, &send, &varlena);
		bytea *bytes = OidSendFunctionCall(send, tenant);
		b.data = VARDATA(bytes);
		b.len = VARSIZE(bytes) - VARHDRSZ;
	});
	return std::string(b.data, b.len);
}

// The tenant column's place among the loaded fields (the tenant check runs on the mapped tuples,
// so that it compares values of the column's type now).
size_t tenant_field(const tb::archive::TableHeader &table, const std::vector<std::string> &load, int64 id,
                    const std::string &display_name) {
	for (size_t i = 0; i < load.size(); i++)
		if (load[i] == table.tenant_column)
			return i;
	throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
	                                           display_name + " lacks its tenant column \"" + table.tenant_column +
	                                           "\"; nothing was restored");
}

// Counts what a table's rows pass on to COPY, for backup_progress: bytes as they go, rows as the
// tenant check counts them (rows found through a path are counted when their table is done).
class ProgressCount : public tb::Source {
public:
	ProgressCount(tb::Source &from, const tb::archive::TenantFieldCheck *rows) : from_(from), rows_(rows) {}
	size_t read(uint8_t *buf, size_t cap) override {
		size_t n = from_.read(buf, cap);
		uint64 rows = rows_ ? rows_->rows() : 0;
		progress_add(rows - counted_, n);
		counted_ = rows;
		return n;
	}
	uint64 counted() const { return counted_; }

private:
	tb::Source &from_;
	const tb::archive::TenantFieldCheck *rows_;
	uint64 counted_ = 0;
};

} // namespace

StoredBackup check_restore_allowed(int64 id, AuditedAction &audit) {
	StoredBackup authorized = authorize_backup(id, "restored", "backup.restore", audit);
	// Every privilege the last step needs, checked before the first: one error naming them all.
	require_sequence_privileges(catalog_tables(id), id, authorized.tenant, audit.action());
	// Before anything is read or changed: Citus table kinds a restore cannot write (issue 15).
	refuse_citus_tables_of_backup(id);
	return authorized;
}

std::vector<RestoredTableResult> restore_backup(int64 id, AuditedAction &audit, const RestoreOptions &options) {
	StoredBackup authorized = check_restore_allowed(id, audit);
	BackupProgress progress(id, authorized.tenant, "restore", 0);
	progress.phase("checking archive");
	OpenedBackup opened = open_backup(authorized, "nothing was restored", true);
	const StoredBackup &backup = opened.backup;
	tb::archive::ArchiveReader &reader = *opened.reader;
	progress.phase("planning");

	// Every table of the archive is planned before anything changes (its table records, read
	// through the archive's index): then the tenant's rows of tables found through foreign keys
	// are deleted deepest first, while the rows their paths go through are still there; the other
	// tables are deleted as they load. Loading is parent-first, as the backup wrote them.
	std::vector<TenantTable> now = load_tenant_tables();
	std::map<std::string, RestoredTable> planned;
	std::vector<std::string> archive_order;
	int colocation = 0; // of the distributed tables, which must all share it
	for (const auto &entry :
	     tb::archive::read_archive_index(*opened.storage, backup.object_name, reader_options(backup))) {
		std::unique_ptr<tb::archive::ArchiveReader> one =
		    tb::archive::open_archive_table(*opened.storage, backup.object_name, reader_options(backup), entry);
		std::optional<tb::archive::TableHeader> table = one->next_table();
		if (!table)
			throw SqlError(ERRCODE_DATA_CORRUPTED,
			               "archive of backup " + std::to_string(id) + " is damaged: its index names a table it lacks");
		RestoredTable r{plan_table_restore(*table, id, now, options), 0};
		if (r.plan.dropped) {
			archive_order.push_back(table->schema + "." + table->name);
			planned.emplace(table->schema + "." + table->name, std::move(r));
			continue;
		}
		if (std::optional<CitusTable> c = citus_table(r.plan.relid)) {
			refuse_unless_distributed_by_tenant(*c, r.plan.relid, r.plan.display_name, r.plan.tenant_column_raw,
			                                    r.plan.table.is_path(), colocation);
			r.distributed = true;
		}
		r.tenant =
		    tenant_datum(backup.tenant, r.plan.tenant_type, r.plan.table.tenant_value_column(), r.plan.display_name);
		archive_order.push_back(table->schema + "." + table->name);
		planned.emplace(table->schema + "." + table->name, std::move(r));
	}
	ForeignKeyChecks foreign_keys;
	std::map<std::string, uint64> removed_through_paths;
	std::vector<const RestoredTable *> paths;
	for (const auto &[name, r] : planned)
		if (!r.plan.dropped && r.plan.table.is_path())
			paths.push_back(&r);
	std::stable_sort(paths.begin(), paths.end(), [](const RestoredTable *a, const RestoredTable *b) {
		return a->plan.table.path.size() > b->plan.table.path.size();
	});
	progress.set_tables_total(static_cast<int>(archive_order.size()));
	progress.phase("deleting");
	for (const RestoredTable *r : paths)
		removed_through_paths[r->plan.display_name] = foreign_keys.delete_tenant_rows(*r);
	// Citus enforces foreign keys and triggers on the workers' shards whatever the coordinator's
	// session_replication_role: the tenant's rows of distributed tables are deleted children first
	// (the reverse of the archive's parent-first order) before any is loaded.
	std::map<std::string, uint64> removed_first;
	for (auto name = archive_order.rbegin(); name != archive_order.rend(); ++name)
		if (planned.at(*name).distributed)
			removed_first[*name] = foreign_keys.delete_tenant_rows(planned.at(*name));

	progress.phase("loading");
	std::vector<RestoredTable> restored;
	std::vector<uint64> restored_rows; // per restored table
	std::vector<RestoredTableResult> results;
	while (std::optional<tb::archive::TableHeader> table = reader.next_table()) {
		auto found = planned.find(table->schema + "." + table->name);
		if (found == planned.end())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           table->schema + "." + table->name + " is not in its index");
		RestoredTable r = std::move(found->second);
		std::string key = found->first;
		planned.erase(found);
		if (r.plan.dropped) { // its rows are drained unread by the next next_table()
			results.push_back({r.plan.display_name, 0, 0, true});
			continue;
		}
		progress.table(r.plan.display_name);
		bool path = r.plan.table.is_path();
		uint64 removed = path            ? removed_through_paths[r.plan.display_name]
		                 : r.distributed ? removed_first[key]
		                                 : foreign_keys.delete_tenant_rows(r);

		tb::archive::TableRows rows(reader);
		// The archived fields as the table takes them now (column_mapping.hpp); every row must be
		// the backup's tenant's, checked on the mapped fields before COPY sees them; rows found
		// through a path are checked after the load (check_path_rows).
		MappedTuples mapped(rows, table->columns, r.plan.mapping, r.plan.display_name,
		                    "backup " + std::to_string(id), "nothing was restored");
		std::unique_ptr<tb::archive::TenantFieldCheck> tenant_rows;
		if (!path)
			tenant_rows = std::make_unique<tb::archive::TenantFieldCheck>(
			    mapped, r.plan.load.size(), tenant_field(*table, r.plan.load, id, r.plan.display_name),
			    tenant_bytes(r.plan.tenant_type, r.tenant), r.plan.display_name + " of backup " + std::to_string(id));
		tb::Source &checked = tenant_rows ? static_cast<tb::Source &>(*tenant_rows) : mapped;
		ProgressCount counted(checked, tenant_rows.get());
		tb::Source &tuples = counted;
		uint64 loaded;
		if (r.distributed) {
			loaded = load_into_citus(r.plan.relid, r.plan.qualified, r.plan.load, tuples, r.plan.load.size());
		} else {
			tb::archive::CopyBinaryFrame stream(tuples);
			LoadingScope loading(r.plan.relid);
			loaded = copy_into(r.plan.relid, r.plan.load, stream);
		}
		if (loaded != reader.table_rows())
			throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
			                                           r.plan.display_name + " loaded " + std::to_string(loaded) +
			                                           " rows, the archive records " +
			                                           std::to_string(reader.table_rows()));
		pg_call([] { CommandCounterIncrement(); });
		progress_add(loaded - counted.counted(), 0); // rows found through a path, and the last ones
		results.push_back({r.plan.display_name, removed, loaded});
		restored.push_back(std::move(r));
		restored_rows.push_back(loaded);
	}
	if (!planned.empty())
		throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " is damaged: table " +
		                                           planned.begin()->first + " of its index has no section");
	progress.tables_finished();
	progress.phase("checking foreign keys");
	for (size_t i = 0; i < restored.size(); i++)
		if (restored[i].plan.table.is_path())
			ForeignKeyChecks::check_path_rows(restored[i], restored_rows[i], id);
	foreign_keys.check(restored, id);
	// The very last step, after every check: what the sequences must be past, bounded, moved at commit.
	std::vector<SequenceMove> moves;
	for (const auto &r : restored)
		for (const auto &m : plan_sequence_moves(r, id))
			moves.push_back(m);
	advance_sequences_at_commit(moves, id, backup.tenant);
	audit.ok();
	return results;
}

} // namespace tb::pg
