// A tuple as binary COPY writes it (int16 field count, then per field an int32 length, -1 for NULL,
// and the bytes of the column type's send function): how a backup archives a row, and how a
// comparison reads the tenant's rows now, so that both sides of it are the same bytes for the
// same values. Plain PostgreSQL calls, for DestReceivers (PostgreSQL frames).
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

// Each column's send function, palloc'd in the current memory context.
FmgrInfo *send_functions_for(TupleDesc desc);

// Appends the slot's tuple; the send functions palloc in the current memory context (a per-row
// context the caller resets).
void append_copy_tuple(StringInfo out, TupleTableSlot *slot, FmgrInfo *send_functions, int natts);

} // namespace tb::pg
