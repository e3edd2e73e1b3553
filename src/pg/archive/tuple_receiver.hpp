// A DestReceiver that turns each tuple the executor produces into PostgreSQL's binary COPY tuple
// format (each column's binary send function) and streams them, in chunks, into an archive.
#pragma once
#include "core/archive/archive_writer.hpp"
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

struct TupleStreamReceiver;

// Allocated in a memory context of its own (a child of the current one); the receiver only
// borrows the writer. destroy_tuple_receiver frees it all.
TupleStreamReceiver *create_tuple_receiver(archive::ArchiveWriter *writer);
void destroy_tuple_receiver(TupleStreamReceiver *receiver);
DestReceiver *as_dest(TupleStreamReceiver *receiver);
// Hands buffered tuples to the writer; returns the rows sent by this receiver so far.
uint64 flush_tuple_receiver(TupleStreamReceiver *receiver);

} // namespace tb::pg
