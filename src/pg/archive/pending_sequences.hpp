// Sequence moves of a restore follow its transaction. setval is not transactional: a sequence
// moved inside a transaction that then rolls back stays moved, for every tenant sharing it. A
// restore therefore only records the value a sequence must be past, and the move happens just
// before commit (XACT_EVENT_PRE_COMMIT), where an error still aborts the transaction; a rollback
// of the transaction, or of the savepoint the restore ran under, forgets it. The move only ever
// advances a sequence.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <string>

namespace tb::pg {

void register_sequence_callbacks();

// At commit, as `user`: setval(sequence, value) unless the sequence would already hand out a
// larger value next. A move that fails there aborts the transaction, the restore's audit row with
// it: it is then recorded as a failed restore of backup `backup_id` of `tenant`.
void advance_sequence_at_commit(Oid sequence, int64 value, Oid user, int64 backup_id, const std::string &tenant);

} // namespace tb::pg
