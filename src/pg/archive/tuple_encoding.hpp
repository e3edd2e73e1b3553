// A tuple as binary COPY writes it (int16 field count, then per field an int32 length, -1 for NULL,
// and the bytes of the column type's send function): how a backup archives a row, and how a
// comparison reads the tenant's rows now, so that both sides of it are the same bytes for the
// same values. Plain PostgreSQL calls, for DestReceivers (PostgreSQL frames).
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

// How one column's values are sent. The send functions of integers, floats, bool, dates and
// timestamps write the value's bytes in network order, and those of text, varchar, char(n) (when
// the client encoding is the database's: nothing to convert) and bytea its bytes as stored: those
// are written here as they would, without a call and a buffer per value.
struct ColumnSender {
	FmgrInfo send;
	int8 width; // the by-value integer's bytes (1, 2, 4, 8), or 0
	bool bytes; // the varlena's bytes
};

// Each column's sender, palloc'd in the current memory context.
ColumnSender *column_senders_for(TupleDesc desc);

// Appends the slot's tuple; send functions palloc in the current memory context (a per-row context
// the caller resets).
void append_copy_tuple(StringInfo out, TupleTableSlot *slot, const ColumnSender *senders, int natts);

} // namespace tb::pg
