// What a restore does after loading and checking every table: move sequences past restored ids.
#pragma once
#include "pg/archive/foreign_keys.hpp"
#include "pg/catalog/read_privileges.hpp"

#include <string>
#include <vector>

namespace tb::pg {

// A sequence owned by a column of a restored table (serial, identity) and the largest value the
// tenant now has in that column.
struct SequenceMove {
	Oid sequence;
	int64 value;
};

// The moves the table's sequences need: only ascending sequences, only where the tenant's largest
// value is at or past what the sequence hands out next. Refuses (insufficient_privilege) unless
// the caller may read and setval the sequence (SELECT and UPDATE), and (numeric_value_out_of_range) a value beyond 90%
// of the sequence's range (minvalue .. maxvalue): sequences are shared by every tenant, so an archive may not exhaust
// one. Changes nothing.
std::vector<SequenceMove> plan_sequence_moves(const RestoredTable &table, int64 backup_id);

// Before a restore changes anything: refuses (insufficient_privilege), naming every sequence and
// privilege missing in one error, unless the current user holds SELECT (to read how far each one
// is) and UPDATE (to advance it) on every sequence owned by a column (serial, identity) of the
// backup's tables as they are now. Audited as a denied `action` (restore, or restore_async when a
// restore job is submitted) of backup `backup_id` of `tenant`. Tables that no longer exist are
// left to the restore's own error.
void require_sequence_privileges(const std::vector<ArchivedTable> &tables, int64 backup_id, const std::string &tenant,
                                 const char *action = "restore");

// Queues the moves for the transaction's commit (pending_sequences.hpp), as the current user; one
// that fails then is audited as a failed restore of backup `backup_id` of `tenant`.
void advance_sequences_at_commit(const std::vector<SequenceMove> &moves, int64 backup_id, const std::string &tenant);

} // namespace tb::pg
