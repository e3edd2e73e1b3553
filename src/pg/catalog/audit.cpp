#include "pg/catalog/audit.hpp"

#include "pg/shared_memory/audit_queue.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/standby.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/subtransaction.hpp"
#include "pg/shared_memory/shared_memory.hpp"

#include <exception>
#include <vector>

extern "C" {
#include "utils/fmgroids.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "utils/inet.h"
#include "utils/wait_event.h"
}

namespace tb::pg {

namespace {

struct Stashed {
	bool pending = false;
	AuditEvent event;
	AuditIdentity who;
};
Stashed stashed_failure;      // left by an AuditedAction unwinding, for the guard's failure hook
bool denial_recorded = false; // the error being raised is a denial already audited

std::string user_name(Oid role) {
	return pg_eval([role] { return static_cast<const char *>(GetUserNameFromId(role, true)); }) ?: "";
}

// The client's address as inet_client_addr() gives it; "" for a Unix socket or a worker.
std::string client_address() {
	const char *address = pg_eval([] {
		FmgrInfo info;
		fmgr_info(F_INET_CLIENT_ADDR, &info);
		LOCAL_FCINFO(call, 0);
		InitFunctionCallInfoData(*call, &info, 0, InvalidOid, nullptr, nullptr);
		Datum inet = FunctionCallInvoke(call);
		return call->isnull ? static_cast<const char *>(nullptr) : DatumGetCString(DirectFunctionCall1(inet_out, inet));
	});
	return address ? address : "";
}

// A JSON string literal, in plain C++ (the failure hook calls no more PostgreSQL than it must).
std::string quoted(const char *s) {
	std::string out = "\"";
	for (const char *p = s; *p; p++) {
		unsigned char c = static_cast<unsigned char>(*p);
		if (c == '"' || c == '\\') {
			out += '\\';
			out += *p;
		} else if (c < 0x20) {
			char escaped[8];
			snprintf(escaped, sizeof(escaped), "\\u%04x", c);
			out += escaped;
		} else {
			out += *p;
		}
	}
	return out + "\"";
}

std::string describe(const QueuedAuditEvent &e) {
	std::string line = "action=" + std::string(e.action) + " outcome=" + e.outcome + " tenant=" + quoted(e.tenant) +
	                   " backup_id=" + (e.backup_id ? std::to_string(e.backup_id) : "-") +
	                   " session_user=" + quoted(e.session_user) + " current_user=" + quoted(e.current_user) +
	                   " client=" + (e.client[0] ? e.client : "local");
	if (e.error[0])
		line += " error=" + quoted(e.error);
	return line;
}

void log_line(const std::string &line) {
	const char *l = line.c_str();
	pg_call([l] { ereport(LOG, (errmsg("%s", l), errhidestmt(true), errhidecontext(true))); });
}

// One greppable line per event in the server log.
void log_event(const QueuedAuditEvent &e) {
	log_line("tenant_backup audit: " + describe(e));
}

// The line saying the event is in the log only.
void log_not_recorded(const QueuedAuditEvent &e, const std::string &why) {
	log_line("tenant_backup audit: NOT RECORDED in tenant_backup.backup_audit (" + why + "): " + describe(e));
}

QueuedAuditEvent make_event(const AuditEvent &event, const AuditIdentity &who) {
	QueuedAuditEvent q;
	memset(&q, 0, sizeof(q));
	pg_call([&] {
		q.database = MyDatabaseId;
		q.at = GetCurrentTimestamp();
		q.backup_id = event.backup_id;
		copy_clipped(q.session_user, sizeof(q.session_user), who.session_user.data(), who.session_user.size());
		copy_clipped(q.current_user, sizeof(q.current_user), who.current_user.data(), who.current_user.size());
		copy_clipped(q.client, sizeof(q.client), who.client.data(), who.client.size());
		copy_clipped(q.action, sizeof(q.action), event.action.data(), event.action.size());
		copy_clipped(q.outcome, sizeof(q.outcome), event.outcome.data(), event.outcome.size());
		copy_clipped(q.tenant, sizeof(q.tenant), event.tenant.data(), event.tenant.size());
		copy_clipped(q.error, sizeof(q.error), event.error.data(), event.error.size());
	});
	return q;
}

const char *const kInsert =
    "INSERT INTO tenant_backup.backup_audit (at, session_user_name, current_user_name, client_addr, tenant, "
    "  backup_id, action, outcome, error) VALUES ($1, $2, $3, $4::pg_catalog.inet, $5, $6, $7, $8, $9)";

// Runs kInsert (needs SPI connected and a snapshot). Empty strings and backup id 0 are NULL.
void insert_row(TimestampTz at, const char *session_user, const char *current_user, const char *client,
                const char *tenant, int64 backup_id, const char *action, const char *outcome, const char *error) {
	Oid types[9] = {TIMESTAMPTZOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum values[9] = {TimestampTzGetDatum(at),
	                   DirectFunctionCall1(namein, CStringGetDatum(session_user)),
	                   DirectFunctionCall1(namein, CStringGetDatum(current_user)),
	                   CStringGetTextDatum(client),
	                   CStringGetTextDatum(tenant),
	                   Int64GetDatum(backup_id),
	                   CStringGetTextDatum(action),
	                   CStringGetTextDatum(outcome),
	                   CStringGetTextDatum(error)};
	char nulls[10] = "         ";
	nulls[3] = client[0] ? ' ' : 'n';
	nulls[4] = tenant[0] ? ' ' : 'n';
	nulls[5] = backup_id ? ' ' : 'n';
	nulls[8] = error[0] ? ' ' : 'n';
	int rc = SPI_execute_with_args(kInsert, 9, types, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "tenant_backup: writing the audit trail failed: %s", SPI_result_code_string(rc));
}

void insert_event(const QueuedAuditEvent &e) {
	insert_row(e.at, e.session_user, e.current_user, e.client, e.tenant, e.backup_id, e.action, e.outcome, e.error);
}

// Where an event recorded outside the transaction ends up.
enum class AuditChannel {
	Table,        // queued for, or being written into, tenant_backup.backup_audit
	LogOnStandby, // the server log only: a hot standby writes no table (docs/SECURITY.md)
	Lost,         // the server log only, though a table was possible (queue full, no worker slot)
};

// The fallback channel (not preloaded, or no scheduler drains the database): a short-lived
// background worker writes the event, in a transaction of its own. The caller never waits for it
// where it registers it (in the failure hook that is before the abort, with the failed
// transaction's locks still held): the session's next audited call waits for it instead
// (wait_for_audit_writer), bounded and cancellable, so a session has at most one writer at a
// time and its events reach the table in order. The event's shared memory is pinned so that the
// worker finds it after the caller has gone on; the worker unpins it.
constexpr long kWriterWaitMs = 10000;
BackgroundWorkerHandle *audit_writer = nullptr; // in TopMemoryContext; the session's last writer

// Waits until the session's last audit writer has exited, at most kWriterWaitMs; a cancel or
// termination is acted on at once (interrupts must not be held). Never call it between a caught
// error and the abort.
void wait_for_audit_writer() {
	if (!audit_writer)
		return;
	bool gave_up = pg_eval([] {
		TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kWriterWaitMs);
		for (;;) {
			pid_t pid;
			BgwHandleStatus status = GetBackgroundWorkerPid(audit_writer, &pid);
			if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED)
				return false;
			long left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (left <= 0)
				return true;
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, Min(left, 100L),
			                PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	});
	pg_call([] {
		pfree(audit_writer);
		audit_writer = nullptr;
	});
	if (gave_up)
		log_line("tenant_backup audit: the audit writer of an earlier event was still running after " +
		         std::to_string(kWriterWaitMs / 1000) +
		         " s; going on without it (if it fails, that event is in the "
		         "server log only)");
}

// Starts a worker that writes the event; false if no worker slot is free. Waits for nothing.
bool write_by_worker(const QueuedAuditEvent &e) {
	bool started = pg_eval([&] {
		dsm_segment *segment = dsm_create(sizeof(QueuedAuditEvent), 0);
		memcpy(dsm_segment_address(segment), &e, sizeof(e));
		dsm_handle handle_of_event = dsm_segment_handle(segment);
		dsm_pin_segment(segment);
		BackgroundWorker worker =
		    worker_definition("tenant_backup_audit_worker", "tenant_backup audit writer", 0, true);
		worker.bgw_main_arg = UInt32GetDatum(handle_of_event);
		worker.bgw_notify_pid = MyProcPid;
		BackgroundWorkerHandle *handle = nullptr;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext); // outlives the failed transaction
		bool registered = RegisterDynamicBackgroundWorker(&worker, &handle);
		MemoryContextSwitchTo(old);
		if (registered) {
			if (audit_writer) // one the session stopped waiting for
				pfree(audit_writer);
			audit_writer = handle;
		} else {
			dsm_unpin_segment(handle_of_event);
		}
		dsm_detach(segment);
		return registered;
	});
	if (!started) {
		log_not_recorded(e, "no background worker slot is free");
		pg_call([] {
			ereport(WARNING, (errmsg("tenant_backup: could not start a background worker to record an audit event; "
			                         "it is in the server log only"),
			                  errhint("Put tenant_backup in shared_preload_libraries and its database in "
			                          "tenant_backup.databases (the audit queue needs no worker slot), or raise "
			                          "max_worker_processes.")));
		});
	}
	return started;
}

AuditChannel record_unheld(const AuditEvent &event, const AuditIdentity &who) {
	QueuedAuditEvent q = make_event(event, who);
	if (on_standby()) {
		log_event(q);
		log_not_recorded(q, "the server is a hot standby");
		return AuditChannel::LogOnStandby;
	}
	QueueOutcome queued = pg_eval([&] { return queue_audit_event(q); });
	log_event(q);
	if (queued == QueueOutcome::Full) {
		log_not_recorded(q, "the audit queue is full");
		return AuditChannel::Lost;
	}
	if (queued == QueueOutcome::NoQueue)
		return write_by_worker(q) ? AuditChannel::Table : AuditChannel::Lost;
	return AuditChannel::Table;
}

// Records the event outside the caller's transaction (see audit.hpp). No catalog access, no
// waiting: a copy into the queue, or a worker registered. Interrupts are held meanwhile (a few
// memcpys, a lock, log lines): logging would otherwise act on a pending cancel (errfinish checks
// for interrupts) before the event is queued, and in the failure hook would consume the very
// cancel that PostgreSQL must report next. The count is restored by hand, since an error inside
// resets it to 0.
AuditChannel record_independently(const AuditEvent &event, const AuditIdentity &who) {
	uint32 holdoff = InterruptHoldoffCount;
	HOLD_INTERRUPTS();
	AuditChannel channel;
	try {
		channel = record_unheld(event, who);
	} catch (...) {
		InterruptHoldoffCount = holdoff;
		throw;
	}
	InterruptHoldoffCount = holdoff;
	return channel;
}

void record_failure_from_guard(const detail::CapturedError &err) {
	if (!stashed_failure.pending)
		return;
	Stashed failure = stashed_failure;
	stashed_failure = Stashed{};
	failure.event.outcome = "failed";
	const char *message = err.edata ? err.edata->message : err.message;
	failure.event.error = message ? message : "unexpected error";
	// No catalog access here (the transaction is about to abort): the identity was looked up when
	// the action started. A pending cancel stays pending (see record_independently).
	try {
		record_independently(failure.event, failure.who);
	} catch (...) {
		// The original error is raised next; the event is in the server log if logging worked.
	}
}

struct InstallHook {
	InstallHook() { detail::failure_hook = record_failure_from_guard; }
} install_hook;

} // namespace

AuditIdentity current_identity() {
	AuditIdentity who;
	who.session_user = user_name(pg_eval([] { return GetSessionUserId(); }));
	who.current_user = user_name(pg_eval([] { return GetUserId(); }));
	who.client = client_address();
	return who;
}

void audit_in_transaction(const AuditEvent &event) {
	QueuedAuditEvent q = make_event(event, current_identity());
	log_event(q);
	if (on_standby()) // an action that changed nothing (a repository check): the log is the trail
		return log_not_recorded(q, "the server is a hot standby");
	AsExtensionOwner owner;
	// The full tenant and error (the queue's record clips them).
	const char *tenant = event.tenant.c_str(), *error = event.error.c_str();
	pg_call([&] {
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "tenant_backup: SPI_connect failed");
		insert_row(q.at, q.session_user, q.current_user, q.client, tenant, q.backup_id, q.action, q.outcome, error);
		SPI_finish();
	});
}

void audit_autonomously(const AuditEvent &event) {
	wait_for_audit_writer(); // no error caught yet: the session's earlier events go first
	if (event.outcome == "denied")
		denial_recorded = true;
	record_independently(event, current_identity());
}

void drain_audit_queue() {
	Oid database = pg_eval([] { return MyDatabaseId; });
	for (;;) {
		std::vector<QueuedAuditEvent> events = take_audit_events(database, 32);
		if (events.empty())
			return;
		std::vector<std::string> failures(events.size());
		ErrorData *error = run_in_transaction("tenant_backup scheduler: writing audit events", [&] {
			for (size_t i = 0; i < events.size(); i++) {
				const QueuedAuditEvent *e = &events[i];
				if (auto problem = try_in_subtransaction([e] { pg_call([e] { insert_event(*e); }); }))
					failures[i] = *problem;
			}
		});
		for (size_t i = 0; i < events.size(); i++) {
			if (error)
				log_not_recorded(events[i],
				                 std::string("writing it failed: ") + (error->message ? error->message : "error"));
			else if (!failures[i].empty())
				log_not_recorded(events[i], "writing it failed: " + failures[i]);
		}
		if (error)
			pg_call([error] { FreeErrorData(error); });
	}
}

AuditedAction::AuditedAction(const char *action, std::string tenant, int64 backup_id)
    : who_(current_identity()), exceptions_at_start_(std::uncaught_exceptions()) {
	wait_for_audit_writer(); // the session's earlier events reach the table first
	event_.action = action;
	event_.tenant = std::move(tenant);
	event_.backup_id = backup_id;
	denial_recorded = false;
}

AuditedAction::~AuditedAction() {
	if (done_ || std::uncaught_exceptions() <= exceptions_at_start_ || denial_recorded)
		return;
	// Unwinding: the guard records the failure once the error's message is known.
	stashed_failure.pending = true;
	stashed_failure.event = event_;
	stashed_failure.who = who_;
}

void AuditedAction::ok(const std::string &note) {
	event_.outcome = "ok";
	event_.error = note;
	audit_in_transaction(event_);
	done_ = true;
}

void AuditedAction::ok_independently(const std::string &note) {
	event_.outcome = "ok";
	event_.error = note;
	AuditChannel channel = record_independently(event_, who_);
	done_ = true;
	// Nothing has failed: the data-returning call waits for its event's writer (if it took one),
	// so that its row is in the table when the call returns, as with an event written in place.
	wait_for_audit_writer();
	// Fail closed: the rows have not left yet (set-returning results reach the client after we
	// return), so a read that would leave no audit row is refused instead. On a hot standby the
	// server log is the audit trail (docs/SECURITY.md).
	if (channel == AuditChannel::Lost)
		throw SqlError(ERRCODE_INSUFFICIENT_RESOURCES,
		               "the " + event_.action + " was refused: its audit event could not be recorded",
		               "Data-returning actions are audited outside the transaction; the audit queue is full or no "
		               "background worker slot is free (the event is in the server log).",
		               "Try again in a moment.");
}

// The fallback worker: copies the event, connects to its database (as the bootstrap superuser:
// it needs no role's rights but the catalog owner's), inserts it, commits. Plain PostgreSQL code:
// an error here ends the worker (the event is in the server log).
void audit_worker_main(Datum arg) {
	BackgroundWorkerUnblockSignals();
	dsm_handle handle = DatumGetUInt32(arg);
	dsm_segment *segment = dsm_attach(handle);
	if (!segment)
		ereport(ERROR, (errmsg("tenant_backup audit writer: the event's shared memory is gone")));
	QueuedAuditEvent event;
	memcpy(&event, dsm_segment_address(segment), sizeof(event));
	dsm_unpin_segment(handle);
	dsm_detach(segment);
	BackgroundWorkerInitializeConnectionByOid(event.database, InvalidOid, 0);
	tb::pg::pin_worker_search_path();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_backup audit writer: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	insert_event(event);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_audit_worker(Datum arg);

void tenant_backup_audit_worker(Datum arg) {
	tb::pg::audit_worker_main(arg);
	proc_exit(0);
}
