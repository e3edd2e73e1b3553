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
//   - the same cluster's transaction ids: the system identifier, the backup's WAL position on this
//     server's current timeline and behind its WAL (not a server restored to a point before it;
//     after a promotion, backups of the timeline before are compared row by row), and at most 2^30
//     transactions since (32-bit xids compared modulo, as PostgreSQL compares them, are exact
//     within 2^31);
//   - the relation and columns the backup read (the OID and attnums its archive records, in this
//     database), not others a rename or tenant_backup.restore_renames maps them onto;
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

#include "core/archive/format.hpp"
#include "pg/archive/foreign_keys.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/catalog/catalog.hpp"

#include <optional>
#include <string>

namespace tb::pg {

// What a backup taking its snapshot now records (BackupReadHorizon); nullopt under a client
// encoding other than the database's (its text would not be the bytes compared later).
std::optional<BackupReadHorizon> read_horizon_of_active_snapshot();

// The xid before which a live row of `table` (read with its xmin, in the current session) is as
// `backup` holds it in the table `header` describes; nullopt when the rule above does not hold.
std::optional<TransactionId> unchanged_before(const StoredBackup &backup, const archive::TableHeader &header,
                                              const RestoredTable &table);

// Whether most (mostly_differ, diff_apply.hpp) of a first sample of the tenant's live rows of
// `table` (200 of them) were written since a backup read them, told by their xmin against the
// table's unchanged_before `before` (false for fewer rows). A restore deletes
// and reloads such a table at once, without first reading the backup's rows into memory to compare
// them. A heuristic on the first rows: a wrong guess costs time, never a different result.
bool mostly_written_since(TransactionId before, const RestoredTable &table);

} // namespace tb::pg
