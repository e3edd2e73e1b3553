// Library entry: module magic, settings and transaction callbacks.
#include "core/net/interrupt.hpp"
#include "core/stream/helper_thread.hpp"
#include "core/stream/threaded_sink.hpp"
#include "pg/shared_memory/audit_queue.hpp"
#include "pg/catalog/keys.hpp"
#include "pg/repository/pending_objects.hpp"
#include "pg/archive/pending_sequences.hpp"
#include "pg/shared_memory/progress.hpp"
#include "pg/scheduler/scheduler.hpp"
#include "pg/shared_memory/scheduler_registry.hpp"
#include "pg/boundary/pg_headers.hpp"
#include "pg/boundary/settings.hpp"

extern "C" {
#include "storage/ipc.h"
PG_MODULE_MAGIC;
void _PG_init(void);
}

// Whether a network transfer should stop: a query cancel (or statement timeout) or a termination
// is pending and would be acted on now. Called from any thread, also the backup pipeline's
// helper thread, so it only reads PostgreSQL's interrupt flags and calls nothing.
static bool interrupt_pending() {
	return (ProcDiePending || (QueryCancelPending && QueryCancelHoldoffCount == 0)) && InterruptHoldoffCount == 0 &&
	       CritSectionCount == 0;
}

// A FATAL error (pg_terminate_backend, shutdown) exits without unwinding C++ frames: stop the
// backup pipeline's helper thread before exit() tears down the libraries it is using.
static void stop_helper_threads(int, Datum) {
	tb::ThreadedSink::stop_all();
	tb::HelperThread::stop_all();
}

void _PG_init(void) {
	tb::pg::define_settings();
	tb::pg::register_transaction_callbacks();
	tb::pg::register_sequence_callbacks();
	tb::pg::register_key_cache_callbacks();
	before_shmem_exit(stop_helper_threads, 0);
	tb::set_interrupt_check(interrupt_pending);
	// Scheduled backups need the launcher, which only a preloaded library can register.
	// and progress needs shared memory, sized at server start.
	if (process_shared_preload_libraries_in_progress) {
		tb::pg::register_launcher();
		tb::pg::request_scheduler_registry_memory();
		tb::pg::request_progress_memory();
		tb::pg::request_audit_queue_memory(); // the audit trail's channel that needs no worker slot
	}
}
