// Citus tables (issue 15). A restore run on the coordinator supports hash-distributed tables whose
// distribution column is the tenant column: their rows are deleted by a DELETE that Citus routes to
// the tenant's shard, and loaded through Citus's own COPY into distributed tables (load_into_citus),
// never into the coordinator's shell table, where no query would see them. Reference tables are
// shared data (ownership.cpp never puts them in backups) and every other Citus table kind (Citus
// local tables, append- or range-distributed tables, single-shard tables, tables distributed by
// another column, path tables on Citus) is refused before anything changes.
#pragma once
#include "core/stream/stream.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tb::pg {

// Whether the citus extension is installed in this database.
bool citus_installed();

struct CitusTable {
	enum class Kind {
		HashDistributed, // partmethod 'h'
		Reference,       // partmethod 'n', replicated to every node
		Local,           // partmethod 'n', a Citus local table on the coordinator
		SingleShard,     // partmethod 'n' in a colocation group (schema-based sharding)
		Other,           // append or range distributed
	} kind;
	std::string distribution_column; // HashDistributed: the column's name
	int colocation_id = 0;
};

// The table's entry in Citus's metadata (pg_dist_partition), or nullopt for a table Citus does not
// know (a plain table of the coordinator). Without Citus installed, always nullopt. Needs SPI.
std::optional<CitusTable> citus_table(Oid relid);

// Refuses (feature_not_supported) a Citus table a tenant restore cannot write, before anything
// changes: every kind but a hash-distributed one. Does nothing for plain tables. Needs SPI.
void refuse_unsupported_citus_kind(Oid relid, const std::string &display_name);

// refuse_unsupported_citus_kind for every table of the backup (its catalog row), before a restore
// reads the archive; does nothing without Citus. Needs SPI connected.
void refuse_citus_tables_of_backup(int64 backup_id);

// For a planned restore of a hash-distributed table: refuses it unless its rows are found by its
// tenant column and that column is the distribution column; `colocation` (0 at first) is the
// colocation group of the restore's distributed tables, and all must share it (so that the
// tenant's rows of every table are in one shard group and the restore's checks are routed to it).
void refuse_unless_distributed_by_tenant(const CitusTable &citus, Oid relid, const std::string &display_name,
                                         const std::string &tenant_column, bool path, int &colocation);

// One snapshot per worker for a backup's reads. Outside an explicit transaction block Citus sends
// each read to a worker as a transaction of its own, and inside one it begins each worker's
// transaction at the coordinator's isolation level: either way, at READ COMMITTED every read of a
// worker would take a new snapshot, so a co-located tenant's tables, all read on one worker, could
// show a transaction that wrote two of them in one and not the other. Opening this scope makes the
// transaction a Citus coordinated transaction (Citus then opens a transaction block on each worker
// it reads, kept to the end), and while it is open a transaction at READ COMMITTED (or below) runs
// at REPEATABLE READ, so the workers Citus first reaches inside it read every table of the backup
// under the snapshot their transaction began with; closing it (or the transaction's end) restores
// the level. A worker reached before
// the scope opened, in the same transaction, keeps its READ COMMITTED transaction. Does nothing
// without Citus or at REPEATABLE READ and above (the coordinator's snapshot is then the whole
// transaction's, and Citus begins the workers at that level already).
class WorkerSnapshotScope {
public:
	WorkerSnapshotScope();
	~WorkerSnapshotScope();
	WorkerSnapshotScope(const WorkerSnapshotScope &) = delete;
	WorkerSnapshotScope &operator=(const WorkerSnapshotScope &) = delete;
	// Pushes a fresh snapshot of the coordinator as the active one (GetTransactionSnapshot at the
	// caller's own isolation level: at READ COMMITTED, a new one, as without Citus).
	void push_coordinator_snapshot();

private:
	int saved_ = -1; // the level to restore, or -1 when the scope changed nothing
};

// The order in which a restore loads the tables `relids` (given in archive order) when some are
// Citus distributed tables, whose foreign keys Citus checks on the workers as each statement
// loads, whatever session_replication_role says: every table after the tables it references
// through a foreign key among `relids` (self-references aside), otherwise in archive order; the
// restore deletes the distributed tables' rows in the reverse order. Returns indexes into
// `relids`. Needs SPI connected.
std::vector<size_t> citus_load_order(const std::vector<Oid> &relids);

// Loads a stream of binary COPY tuples (`fields` per tuple) into the columns `columns` of a Citus
// distributed table through Citus: each batch of rows is staged in a temporary table of this
// session and moved with INSERT INTO table SELECT ... FROM the staging table, which Citus executes
// as its COPY into the shards of the rows' tenant (on the workers, in this transaction). Memory and
// staging space are bounded by the batch. Returns the rows loaded. Needs SPI connected.
uint64 load_into_citus(Oid relid, const std::string &qualified, const std::vector<std::string> &columns, Source &tuples,
                       size_t fields);

} // namespace tb::pg
