#include "pg/archive/citus_tables.hpp"

#include "core/archive/copy_binary.hpp"
#include "pg/archive/copy_loader.hpp"
#include "pg/archive/loading_scope.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/foreign_key_catalog.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/catalog/tenant_tables.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace tb::pg {

bool citus_installed() {
	return pg_eval([] { return OidIsValid(get_extension_oid("citus", true)); });
}

std::optional<CitusTable> citus_table(Oid relid) {
	if (!citus_installed())
		return std::nullopt;
	std::optional<CitusTable> found;
	SqlParams of_table = SqlParams().oid(relid);
	pg_call([&] {
		// partmethod: 'h' hash, 'a'/'r' append/range, 'n' none: a reference table (repmodel 't'),
		// a single-shard table (a colocation group) or a Citus local table.
		if (spi_run("SELECT partmethod::pg_catalog.text, repmodel::pg_catalog.text, colocationid, "
		            "  CASE WHEN partmethod OPERATOR(pg_catalog.=) 'h' "
		            "    THEN pg_catalog.column_to_column_name(logicalrelid, partkey) END "
		            "FROM pg_catalog.pg_dist_partition "
		            "WHERE logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
		            of_table, true, SPI_OK_SELECT) == 0)
			return;
		char method = spi_text(0, 1)[0], model = spi_text(0, 2)[0];
		bool isnull;
		int colocation = DatumGetInt32(spi_datum(0, 3, &isnull));
		char *column = spi_text(0, 4);
		CitusTable t{CitusTable::Kind::Other, column ? column : "", colocation};
		if (method == 'h')
			t.kind = CitusTable::Kind::HashDistributed;
		else if (method == 'n')
			t.kind = model == 't' ? CitusTable::Kind::Reference
			                      : (colocation != 0 ? CitusTable::Kind::SingleShard : CitusTable::Kind::Local);
		found = t;
	});
	return found;
}

WorkerSnapshotScope::WorkerSnapshotScope() {
	if (!citus_installed())
		return;
	// Citus sends a read outside an explicit transaction block (a function called in autocommit) to
	// the worker as a transaction of its own; in a coordinated transaction, it opens a transaction
	// block on each worker it reads and keeps it to the end. Citus's own entry point (citus.so is
	// loaded: shared_preload_libraries), looked up so that tenant_backup does not link against it.
	pg_call([] {
		void (*use_coordinated)(void) = reinterpret_cast<void (*)(void)>(
		    load_external_function("$libdir/citus", "UseCoordinatedTransaction", false, nullptr));
		if (use_coordinated)
			use_coordinated();
	});
	if (XactIsoLevel >= XACT_REPEATABLE_READ)
		return;
	saved_ = XactIsoLevel;
	XactIsoLevel = XACT_REPEATABLE_READ; // read by Citus when it begins a worker's transaction
}

WorkerSnapshotScope::~WorkerSnapshotScope() {
	if (saved_ >= 0)
		XactIsoLevel = saved_;
}

void WorkerSnapshotScope::push_coordinator_snapshot() {
	int saved = saved_;
	pg_call([saved] {
		int level = XactIsoLevel;
		if (saved >= 0)
			XactIsoLevel = saved;
		Snapshot snapshot = GetTransactionSnapshot();
		XactIsoLevel = level;
		PushActiveSnapshot(snapshot);
	});
}

std::vector<size_t> citus_load_order(const std::vector<Oid> &relids) {
	std::string list;
	for (Oid relid : relids)
		list += (list.empty() ? "" : ",") + std::to_string(relid);
	std::vector<ForeignKey> keys = load_foreign_keys("c.conrelid OPERATOR(pg_catalog.=) ANY ('{" + list +
	                                                 "}'::pg_catalog.oid[]) AND c.confrelid OPERATOR(pg_catalog.=) "
	                                                 "ANY ('{" +
	                                                 list + "}'::pg_catalog.oid[])");
	std::vector<size_t> order;
	std::vector<bool> placed(relids.size(), false);
	while (order.size() < relids.size()) {
		bool progressed = false;
		for (size_t i = 0; i < relids.size(); i++) {
			if (placed[i])
				continue;
			bool waits = false; // for a referenced table not placed yet
			for (const auto &k : keys)
				if (k.child == relids[i] && k.parent != k.child)
					for (size_t j = 0; j < relids.size(); j++)
						if (!placed[j] && relids[j] == k.parent)
							waits = true;
			if (waits)
				continue;
			placed[i] = true;
			order.push_back(i);
			progressed = true;
			break; // the first table that may go, in archive order
		}
		if (!progressed) // a cycle of foreign keys: the rest in archive order, as before
			for (size_t i = 0; i < relids.size(); i++)
				if (!placed[i]) {
					placed[i] = true;
					order.push_back(i);
				}
	}
	return order;
}

namespace {

[[noreturn]] void refuse(const std::string &display_name, const std::string &why, const std::string &detail,
                         const std::string &hint) {
	throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
	               "cannot restore into table " + display_name + ": it is " + why + "; nothing was restored", detail,
	               hint);
}

} // namespace

void refuse_unsupported_citus_kind(Oid relid, const std::string &display_name) {
	std::optional<CitusTable> t = citus_table(relid);
	if (!t || t->kind == CitusTable::Kind::HashDistributed)
		return;
	switch (t->kind) {
	case CitusTable::Kind::Reference:
		refuse(display_name, "a Citus reference table",
		       "Reference tables are shared data, replicated to every node: a tenant restore never deletes or "
		       "loads them. The backup was taken while the table was a tenant table.",
		       "Restore the other tables with a backup taken since the table became a reference table.");
	case CitusTable::Kind::Local:
		refuse(display_name, "a Citus local table",
		       "tenant_backup restores Citus distributed tables and plain tables, not Citus local tables.",
		       "Distribute the table by its tenant column (create_distributed_table), or undistribute it.");
	default:
		refuse(display_name, "a Citus table that is not hash-distributed",
		       "tenant_backup restores Citus tables hash-distributed by their tenant column only (not append, "
		       "range or single-shard tables).",
		       "Distribute the table by its tenant column with create_distributed_table.");
	}
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
			refuse_unsupported_citus_kind(relid, schema + "." + name);
	}
}

void refuse_unless_distributed_by_tenant(const CitusTable &citus, Oid relid, const std::string &display_name,
                                         const std::string &tenant_column, bool path, int &colocation) {
	if (citus.kind != CitusTable::Kind::HashDistributed) {
		refuse_unsupported_citus_kind(relid, display_name);
		return;
	}
	if (path)
		refuse(display_name, "a Citus distributed table found through foreign keys",
		       "Its rows belong to the tenant through a foreign key, not by a tenant column that Citus distributes "
		       "it by: the restore could not route its deletes and checks to the tenant's shard.",
		       "Add the tenant column to the table and distribute it by that column, co-located with the others.");
	if (citus.distribution_column != tenant_column)
		refuse(display_name, "a Citus table distributed by column \"" + citus.distribution_column + "\"",
		       "tenant_backup restores Citus tables distributed by their tenant column \"" + tenant_column +
		           "\" only: then every row of a tenant is in the tenant's shard, where the restore routes it.",
		       "Distribute the table by its tenant column.");
	if (colocation == 0)
		colocation = citus.colocation_id;
	else if (colocation != citus.colocation_id)
		refuse(display_name, "a Citus table not co-located with the backup's other distributed tables",
		       "A tenant restore needs the tenant's rows of every distributed table in one shard group, so that "
		       "its deletes, loads and foreign-key checks are routed to one place.",
		       "Co-locate the tables (create_distributed_table(..., colocate_with => ...)).");
}

namespace {

// Rows staged and moved per statement: large enough that the per-statement work of Citus (a
// plan, connections to the shard's worker) is small per row, small enough to bound the staging.
constexpr uint64 kRowsPerBatch = 10000;

int staging_counter = 0;

} // namespace

uint64 load_into_citus(Oid relid, const std::string &qualified, const std::vector<std::string> &columns, Source &tuples,
                       size_t fields) {
	std::string cols = join_each(columns, ", ", [&](size_t i) { return quoted_ident(columns[i]); });
	std::string staging = "pg_temp.tenant_backup_load_" + std::to_string(++staging_counter);
	// The staging table is local to this session (never a Citus table) and has the columns' types,
	// so that COPY decodes every field exactly as it would into the table itself.
	std::string create =
	    "CREATE TEMP TABLE " + staging + " ON COMMIT DROP AS SELECT " + cols + " FROM " + qualified + " WITH NO DATA";
	// Identity columns GENERATED ALWAYS take the archived values, as COPY gives them on a single server.
	std::string move =
	    "INSERT INTO " + qualified + " (" + cols + ") OVERRIDING SYSTEM VALUE SELECT " + cols + " FROM " + staging;
	std::string empty = "TRUNCATE " + staging;
	Oid staging_relid = InvalidOid;
	{
		// Owned by the role that loads the table (AsTableOwner); runs no user code.
		AsTableOwner owner(relid, AsTableOwner::Mode::Plain);
		const char *q = create.c_str();
		std::string name = staging.substr(std::string("pg_temp.").size());
		const char *n = name.c_str();
		staging_relid = pg_eval([q, n] {
			spi_run(q, SqlParams(), false, SPI_OK_UTILITY);
			return RangeVarGetRelid(makeRangeVar(pstrdup("pg_temp"), pstrdup(n), -1), NoLock, false);
		});
	}
	archive::TupleBatches batches(tuples, fields, kRowsPerBatch);
	uint64 loaded = 0;
	while (batches.next_batch()) {
		archive::CopyBinaryFrame frame(batches);
		LoadingScope loading(relid);
		uint64 staged = copy_into(staging_relid, columns, frame);
		const char *m = move.c_str(), *e = empty.c_str();
		uint64 moved = pg_eval([m, e] {
			uint64 n = spi_run(m, SqlParams(), false, SPI_OK_INSERT);
			spi_run(e, SqlParams(), false, SPI_OK_UTILITY);
			return n;
		});
		if (moved != staged)
			throw SqlError(ERRCODE_INTERNAL_ERROR, "Citus inserted " + std::to_string(moved) + " of " +
			                                           std::to_string(staged) + " rows staged for " + qualified);
		loaded += moved;
	}
	return loaded;
}

} // namespace tb::pg
