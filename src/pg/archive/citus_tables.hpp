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

// Loads a stream of binary COPY tuples (`fields` per tuple) into the columns `columns` of a Citus
// distributed table through Citus: each batch of rows is staged in a temporary table of this
// session and moved with INSERT INTO table SELECT ... FROM the staging table, which Citus executes
// as its COPY into the shards of the rows' tenant (on the workers, in this transaction). Memory and
// staging space are bounded by the batch. Returns the rows loaded. Needs SPI connected.
uint64 load_into_citus(Oid relid, const std::string &qualified, const std::vector<std::string> &columns, Source &tuples,
                       size_t fields);

} // namespace tb::pg
