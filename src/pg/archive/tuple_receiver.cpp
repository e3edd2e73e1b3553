#include "pg/archive/tuple_receiver.hpp"

#include "pg/shared_memory/progress.hpp"

#include "pg/archive/tuple_encoding.hpp"
#include "pg/boundary/guard.hpp"

namespace tb::pg {

namespace {
// Large enough that framing and syscalls are negligible, small enough to keep memory flat.
constexpr int kFlushBytes = 256 * 1024;
constexpr Size kRowBlockBytes = 64 * 1024;
} // namespace

struct TupleStreamReceiver {
	DestReceiver pub; // must be first: PostgreSQL sees a DestReceiver *
	archive::ArchiveWriter *writer;
	ColumnSender *senders;
	int natts;
	StringInfoData buffer;
	MemoryContext context;     // holds the receiver itself, its buffer and row_context
	MemoryContext row_context; // reset after every tuple: send functions palloc their output
	uint64 buffered_rows;
	uint64 total_rows;
};

namespace {

void flush(TupleStreamReceiver *self) {
	if (self->buffer.len == 0)
		return;
	cpp_call([self] {
		self->writer->append_rows(reinterpret_cast<const uint8_t *>(self->buffer.data),
		                          static_cast<size_t>(self->buffer.len), self->buffered_rows);
	});
	progress_add(self->buffered_rows, static_cast<uint64>(self->buffer.len));
	resetStringInfo(&self->buffer);
	self->buffered_rows = 0;
}

void receiver_startup(DestReceiver *dest, int, TupleDesc typeinfo) {
	auto *self = reinterpret_cast<TupleStreamReceiver *>(dest);
	self->natts = typeinfo->natts;
	self->senders = column_senders_for(typeinfo);
}

bool receiver_receive(TupleTableSlot *slot, DestReceiver *dest) {
	auto *self = reinterpret_cast<TupleStreamReceiver *>(dest);
	CHECK_FOR_INTERRUPTS();
	MemoryContext old = MemoryContextSwitchTo(self->row_context);
	append_copy_tuple(&self->buffer, slot, self->senders, self->natts);
	MemoryContextSwitchTo(old);
	MemoryContextReset(self->row_context);
	self->buffered_rows++;
	self->total_rows++;
	if (self->buffer.len >= kFlushBytes)
		flush(self);
	return true;
}

void receiver_shutdown(DestReceiver *) {}
void receiver_destroy(DestReceiver *) {}

} // namespace

TupleStreamReceiver *create_tuple_receiver(archive::ArchiveWriter *writer) {
	return pg_eval([writer] {
		MemoryContext context =
		    AllocSetContextCreate(CurrentMemoryContext, "tenant_backup table", ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(context);
		auto *self = static_cast<TupleStreamReceiver *>(palloc0(sizeof(TupleStreamReceiver)));
		self->pub.receiveSlot = receiver_receive;
		self->pub.rStartup = receiver_startup;
		self->pub.rShutdown = receiver_shutdown;
		self->pub.rDestroy = receiver_destroy;
		self->pub.mydest = DestNone;
		self->writer = writer;
		self->context = context;
		initStringInfo(&self->buffer);
		enlargeStringInfo(&self->buffer, kFlushBytes + 65536);
		// Each send function pallocs a 1 kB buffer at least: the first block is kept across resets
		// and holds a wide row's allocations, so that a row costs no malloc/free.
		self->row_context = AllocSetContextCreate(context, "tenant_backup row", 0, kRowBlockBytes, kRowBlockBytes);
		MemoryContextSwitchTo(old);
		return self;
	});
}

void destroy_tuple_receiver(TupleStreamReceiver *receiver) {
	pg_call([receiver] { MemoryContextDelete(receiver->context); });
}

DestReceiver *as_dest(TupleStreamReceiver *receiver) {
	return &receiver->pub;
}

uint64 flush_tuple_receiver(TupleStreamReceiver *receiver) {
	pg_call([receiver] { flush(receiver); });
	return receiver->total_rows;
}

} // namespace tb::pg
