// What our background workers (scheduler, audit writer) share: running C++ in a transaction of its own, and starting
// dynamic workers of this library.
#pragma once
#include "pg/boundary/guard.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

extern "C" {
#include "postmaster/bgworker.h"
}

namespace tb::pg {

namespace detail {
ErrorData *run_in_transaction_impl(const char *what, void (*fn)(void *), void *arg);
}

// Runs fn (C++, under cpp_call) in a transaction with SPI connected and a snapshot pushed, then
// commits. An error aborts the transaction and is returned (copied, in the caller's memory
// context; FreeErrorData it) instead of ending the worker; nullptr on success. `what` shows in
// pg_stat_activity meanwhile.
template <typename F> ErrorData *run_in_transaction(const char *what, F &&fn) {
	using Fn = std::remove_reference_t<F>;
	return detail::run_in_transaction_impl(
	    what, [](void *p) { cpp_call([p] { (*static_cast<Fn *>(p))(); }); }, &fn);
}

// Inside run_in_transaction's fn: commits the transaction (its locks and snapshot go), runs
// `between` (C++ that runs no SQL: storage only) outside any transaction, then starts a new one
// as run_in_transaction does (SPI connected, a snapshot pushed), so that a long job made of many
// parts holds nothing from one part to the next. A C++ exception of `between` propagates once the
// new transaction has started (run_in_transaction then aborts it).
void commit_and_continue(const char *what, const std::function<void()> &between = {});

// The definition of a worker running `function` of this library, started once recovery is over,
// restarted `restart_seconds` after a failure (0: never). Plain C: no errors raised.
BackgroundWorker worker_definition(const char *function, const char *name, int restart_seconds, bool needs_database);

// Registers a dynamic worker (worker_definition) that notifies this process when it stops.
// `extra` (< BGW_EXTRALEN bytes) is its argument. The handle lives in TopMemoryContext; nullptr
// if no worker slot is free. Called from PostgreSQL frames only (plain C calls).
BackgroundWorkerHandle *start_worker(const char *function, const char *name, const std::string &extra,
                                     int restart_seconds, bool needs_database);

// The prologue of every worker main of ours, in two parts (plain PostgreSQL calls, from the
// worker main's own frame, before any C++ runs).
// worker_signals: SIGHUP sets ConfigReloadPending; SIGTERM sets ShutdownRequestPending and acts as
// die(), so that the worker ends within moments whatever SQL it is running (a FATAL at the next
// CHECK_FOR_INTERRUPTS aborts its transaction: the catalog keeps only what was committed). What
// must not be cut short holds interrupts (HOLD_INTERRUPTS). Then signals are unblocked.
void worker_signals();
// worker_connect: connects to `database` (by name when database_name is given) as `role` (the
// bootstrap superuser when InvalidOid), pins search_path, names the worker in pg_stat_activity,
// and runs its transactions at READ COMMITTED (telling finished work from work in progress needs a
// new snapshot per statement).
void worker_connect(Oid database, const char *database_name, const char *application_name, Oid role = InvalidOid);

// When the process `pid` started, if it is a live background worker of type `type` (its bgw_type)
// connected to a database now; nullopt otherwise. A worker that claimed a job at time T started
// before T: a pid the kernel has handed to a process started since (another worker of ours among
// them) tells itself apart by its start. Plain PostgreSQL calls (inside pg_eval); reads the
// backends' status afresh.
std::optional<TimestampTz> worker_started_at(int pid, const char *type);

// The message of an error run_in_transaction returned, with its detail in parentheses; frees it.
std::string take_error_message(ErrorData *error);

// A dynamic worker this process started, as the postmaster sees it now.
struct StartedWorker {
	BgwHandleStatus status; // BGWH_STARTED or BGWH_NOT_YET_STARTED
	pid_t pid;
};
// Forgets (and frees) the handles of `workers` that have stopped; the others' states, in order.
std::vector<StartedWorker> forget_stopped_workers(std::vector<BackgroundWorkerHandle *> &workers);

} // namespace tb::pg
