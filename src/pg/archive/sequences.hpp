// What a restore does after loading and checking every table: move sequences past restored ids.
#pragma once
#include "pg/archive/foreign_keys.hpp"

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

// Queues the moves for the transaction's commit (pending_sequences.hpp), as the current user.
void advance_sequences_at_commit(const std::vector<SequenceMove> &moves);

} // namespace tb::pg
