#include "pg/audit.hpp"

#include "pg/background_workers.hpp"
#include "pg/catalog.hpp"
#include "pg/guard.hpp"
#include "pg/permissions.hpp"

#include <exception>

extern "C" {
#include "utils/fmgroids.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/dsm.h"
#include "utils/inet.h"
}

namespace tb::pg {

namespace {

// The event as the worker receives it in a DSM segment: the backup id, then NUL-terminated
// strings in the order of kFields.
enum Field { SessionUser, CurrentUser, Client, Tenant, Action, Outcome, Error, kFields };

struct Stashed {
	bool pending = false;
	AuditEvent event;
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

struct Fields {
	std::string values[kFields];
};

Fields fields_of(const AuditEvent &e) {
	Fields f;
	f.values[SessionUser] = user_name(pg_eval([] { return GetSessionUserId(); }));
	f.values[CurrentUser] = user_name(pg_eval([] { return GetUserId(); }));
	f.values[Client] = client_address();
	f.values[Tenant] = e.tenant;
	f.values[Action] = e.action;
	f.values[Outcome] = e.outcome;
	f.values[Error] = e.error;
	return f;
}

// One greppable line per event in the server log.
void log_event(const Fields &f, int64 backup_id) {
	std::string line =
	    "tenant_backup audit: action=" + f.values[Action] + " outcome=" + f.values[Outcome] +
	    " tenant=" + quote_json(f.values[Tenant]) + " backup_id=" + (backup_id ? std::to_string(backup_id) : "-") +
	    " session_user=" + quote_json(f.values[SessionUser]) + " current_user=" + quote_json(f.values[CurrentUser]) +
	    " client=" + (f.values[Client].empty() ? "local" : f.values[Client]);
	if (!f.values[Error].empty())
		line += " error=" + quote_json(f.values[Error]);
	const char *l = line.c_str();
	pg_call([l] { ereport(LOG, (errmsg("%s", l), errhidestmt(true), errhidecontext(true))); });
}

const char *const kInsert =
    "INSERT INTO tenant_backup.backup_audit (session_user_name, current_user_name, client_addr, tenant, backup_id, "
    "  action, outcome, error) VALUES ($1, $2, NULLIF($3, '')::inet, NULLIF($4, ''), NULLIF($5, 0), $6, $7, "
    "  NULLIF($8, ''))";

// Runs kInsert with the fields (needs SPI connected and a snapshot).
void insert_fields(const char *const *values, int64 backup_id) {
	Oid types[8] = {NAMEOID, NAMEOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum datums[8] = {DirectFunctionCall1(namein, CStringGetDatum(values[SessionUser])),
	                   DirectFunctionCall1(namein, CStringGetDatum(values[CurrentUser])),
	                   CStringGetTextDatum(values[Client]),
	                   CStringGetTextDatum(values[Tenant]),
	                   Int64GetDatum(backup_id),
	                   CStringGetTextDatum(values[Action]),
	                   CStringGetTextDatum(values[Outcome]),
	                   CStringGetTextDatum(values[Error])};
	int rc = SPI_execute_with_args(kInsert, 8, types, datums, nullptr, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "tenant_backup: writing the audit trail failed: %s", SPI_result_code_string(rc));
}

// Serializes the event for the worker: int64 backup id, then the strings.
std::string serialize(const Fields &f, int64 backup_id) {
	std::string out(reinterpret_cast<const char *>(&backup_id), sizeof(backup_id));
	for (const auto &v : f.values)
		out.append(v.c_str(), v.size() + 1); // a NUL inside a value ends it: values come from text
	return out;
}

void record_failure_from_guard(const detail::CapturedError &err) {
	if (!stashed_failure.pending)
		return;
	AuditEvent event = stashed_failure.event;
	stashed_failure = Stashed{};
	event.outcome = "failed";
	const char *message = err.edata ? err.edata->message : err.message;
	event.error = message ? message : "unexpected error";
	// A pending cancel or termination is often why the action failed: it must not cut the wait for
	// the audit worker short, and must stay pending so that PostgreSQL raises it next. Restored by
	// hand, since an error inside resets the count to 0.
	uint32 holdoff = InterruptHoldoffCount;
	HOLD_INTERRUPTS();
	try {
		audit_autonomously(event);
	} catch (...) {
		// The original error is raised next; the event is at least in the server log if logging worked.
	}
	InterruptHoldoffCount = holdoff;
}

struct InstallHook {
	InstallHook() { detail::failure_hook = record_failure_from_guard; }
} install_hook;

} // namespace

void audit_in_transaction(const AuditEvent &event) {
	Fields f = fields_of(event);
	log_event(f, event.backup_id);
	AsExtensionOwner owner;
	pg_call([&] {
		const char *values[kFields];
		for (int i = 0; i < kFields; i++)
			values[i] = f.values[i].c_str();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "tenant_backup: SPI_connect failed");
		insert_fields(values, event.backup_id);
		SPI_finish();
	});
}

void audit_autonomously(const AuditEvent &event) {
	if (event.outcome == "denied")
		denial_recorded = true;
	Fields f = fields_of(event);
	log_event(f, event.backup_id);
	std::string payload = serialize(f, event.backup_id);
	Oid owner = extension_owner();
	bool started = pg_eval([&] {
		dsm_segment *segment = dsm_create(payload.size() + sizeof(Oid) * 2, 0);
		char *base = static_cast<char *>(dsm_segment_address(segment));
		Oid ids[2] = {MyDatabaseId, owner};
		memcpy(base, ids, sizeof(ids));
		memcpy(base + sizeof(ids), payload.data(), payload.size());

		BackgroundWorker worker =
		    worker_definition("tenant_backup_audit_worker", "tenant_backup audit writer", 0, true);
		worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
		worker.bgw_notify_pid = MyProcPid;
		BackgroundWorkerHandle *handle;
		bool ok = RegisterDynamicBackgroundWorker(&worker, &handle);
		if (ok)
			ok = WaitForBackgroundWorkerShutdown(handle) == BGWH_STOPPED;
		dsm_detach(segment);
		return ok;
	});
	if (!started)
		pg_call([] {
			ereport(WARNING, (errmsg("tenant_backup: could not start a background worker to record an audit event; "
			                         "it is in the server log only"),
			                  errhint("Raise max_worker_processes.")));
		});
}

AuditedAction::AuditedAction(const char *action, std::string tenant, int64 backup_id)
    : exceptions_at_start_(std::uncaught_exceptions()) {
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
}

void AuditedAction::ok(const std::string &note) {
	event_.outcome = "ok";
	event_.error = note;
	audit_in_transaction(event_);
	done_ = true;
}

// The worker: attaches the event, connects as the extension's owner, inserts it, commits.
// Plain PostgreSQL code: an error here ends the worker (the event is in the server log).
void audit_worker_main(Datum arg) {
	BackgroundWorkerUnblockSignals();
	dsm_segment *segment = dsm_attach(DatumGetUInt32(arg));
	if (!segment)
		ereport(ERROR, (errmsg("tenant_backup audit writer: the event's shared memory is gone")));
	const char *base = static_cast<const char *>(dsm_segment_address(segment));
	Oid ids[2];
	memcpy(ids, base, sizeof(ids));
	int64 backup_id;
	memcpy(&backup_id, base + sizeof(ids), sizeof(backup_id));
	const char *values[kFields];
	const char *p = base + sizeof(ids) + sizeof(backup_id);
	for (int i = 0; i < kFields; i++) {
		values[i] = p;
		p += strlen(p) + 1;
	}
	BackgroundWorkerInitializeConnectionByOid(ids[0], ids[1], 0);
	tb::pg::pin_worker_search_path();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "tenant_backup audit writer: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	insert_fields(values, backup_id);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	dsm_detach(segment);
}

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_audit_worker(Datum arg);

void tenant_backup_audit_worker(Datum arg) {
	tb::pg::audit_worker_main(arg);
	proc_exit(0);
}
