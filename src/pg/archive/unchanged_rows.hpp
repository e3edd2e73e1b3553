// Rows unchanged since a backup, told by their xmin: a comparison's shortcut (issue 21).
//
// A backup records the xmin of the snapshot it read the tenant's rows under (every transaction
// older had ended by then; its own transaction's id too, if it had one). A live row whose xmin
// precedes it was inserted by a transaction that had committed before the backup read, and no
// UPDATE has touched it since (an UPDATE writes a new row version, with a new xmin). So when the
// backup read it, it read this very row version: the archive holds it byte for byte, and a
// comparison need not encode it to know it is unchanged. It still looks its key up, for the key
// may be in the archive twice, or not at all.
//
// That holds only while "this very row version" means what it meant to the backup, which the
// rule below checks table by table (unchanged_before), never trusting what it cannot see:
//   - the same cluster's transaction ids: the system identifier, and at most 2^30 transactions
//     since (32-bit xids compared modulo, as PostgreSQL compares them, are exact within 2^31);
//   - the same relation, unaltered: its pg_class and pg_namespace rows and the pg_attribute rows
//     of the compared columns older than the backup (a rename, a swap, a column dropped and added
//     again under its name, VACUUM FULL, ALTER TABLE: all write those rows anew);
//   - rows read from that heap relation alone: an ordinary heap table, not a partitioned table
//     (a partition attached since brings older rows), not found through a path (a parent's tenant
//     may have changed since), not a Citus table (a worker's xids are its own);
//   - values a send function writes from their bytes alone: PostgreSQL's built-in types (an
//     enum's label, an extension type's output can change without the row changing), and the
//     backup's and this session's client encodings the database's;
//   - columns the archive holds as the table now has them (no conversion).
#pragma once

#include "pg/archive/foreign_keys.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <optional>
#include <string>

namespace tb::pg {

// What a backup taking its snapshot now records: the snapshot's xmin (or its own transaction's
// id, if older) as a 64-bit transaction id, and this cluster's system identifier; nullopt under
// a client encoding other than the database's (its text would not be the bytes compared later).
struct BackupReadHorizon {
	uint64 xmin = 0;
	std::string system_identifier;
};
std::optional<BackupReadHorizon> read_horizon_of_active_snapshot();

// The xid before which a live row of `table` (read with its xmin, in the current session) is as
// backup `backup_id` holds it; nullopt when the rule above does not hold for it.
std::optional<TransactionId> unchanged_before(int64 backup_id, const RestoredTable &table);

} // namespace tb::pg
