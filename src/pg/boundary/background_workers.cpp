#include "pg/boundary/background_workers.hpp"

#include "pg/boundary/search_path.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
}

namespace tb::pg {

ErrorData *detail::run_in_transaction_impl(const char *what, void (*fn)(void *), void *arg) {
	MemoryContext outer = CurrentMemoryContext;
	ErrorData *volatile error = nullptr;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, what);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "tenant_backup: SPI_connect failed");
		fn(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(outer);
		error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(outer);
	pgstat_report_activity(STATE_IDLE, nullptr);
	return error;
}

void commit_and_continue(const char *what, const std::function<void()> &between) {
	// Out of the transaction's memory first: an error below switches back to the context current
	// at the call, which the commit would have freed.
	pg_call([] { MemoryContextSwitchTo(TopMemoryContext); });
	pg_call([] {
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, nullptr);
	});
	std::exception_ptr failure;
	if (between) {
		try {
			between();
		} catch (...) {
			failure = std::current_exception();
		}
	}
	pg_call([what] {
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, what);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "tenant_backup: SPI_connect failed");
	});
	if (failure)
		std::rethrow_exception(failure);
}

BackgroundWorker worker_definition(const char *function, const char *name, int restart_seconds, bool needs_database) {
	BackgroundWorker worker;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | (needs_database ? BGWORKER_BACKEND_DATABASE_CONNECTION : 0);
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = restart_seconds > 0 ? restart_seconds : BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "tenant_backup");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", name);
	return worker;
}

BackgroundWorkerHandle *start_worker(const char *function, const char *name, const std::string &extra,
                                     int restart_seconds, bool needs_database) {
	BackgroundWorker worker = worker_definition(function, name, restart_seconds, needs_database);
	snprintf(worker.bgw_extra, BGW_EXTRALEN, "%s", extra.c_str());
	worker.bgw_notify_pid = MyProcPid;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	BackgroundWorkerHandle *handle = nullptr;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		handle = nullptr;
	MemoryContextSwitchTo(old);
	return handle;
}

namespace {

void handle_sigterm(SIGNAL_ARGS) {
	ShutdownRequestPending = true;
	die(postgres_signal_arg); // sets the latch too
}

} // namespace

void worker_signals() {
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, handle_sigterm);
	BackgroundWorkerUnblockSignals();
}

void worker_connect(Oid database, const char *database_name, const char *application_name, Oid role) {
	if (database_name)
		BackgroundWorkerInitializeConnection(database_name, nullptr, 0);
	else
		BackgroundWorkerInitializeConnectionByOid(database, role, 0);
	pin_worker_search_path();
	pgstat_report_appname(application_name);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
}

std::optional<TimestampTz> worker_started_at(int pid, const char *type) {
	if (pid <= 0)
		return std::nullopt;
	const char *its_type = GetBackgroundWorkerTypeByPid(pid); // the postmaster's slot: alive
	if (!its_type || strcmp(its_type, type) != 0)
		return std::nullopt;
	pgstat_clear_backend_activity_snapshot();
	int backends = pgstat_fetch_stat_numbackends();
	for (int i = 1; i <= backends; i++) {
		LocalPgBackendStatus *entry = pgstat_fetch_stat_local_beentry(i);
		if (entry && entry->backendStatus.st_procpid == pid)
			return entry->backendStatus.st_proc_start_timestamp;
	}
	return std::nullopt; // not connected (yet, or any more)
}

std::string take_error_message(ErrorData *error) {
	std::string message = error->message ? error->message : "unknown error";
	if (error->detail)
		message += " (" + std::string(error->detail) + ")";
	pg_call([error] { FreeErrorData(error); });
	return message;
}

std::vector<StartedWorker> forget_stopped_workers(std::vector<BackgroundWorkerHandle *> &workers) {
	std::vector<StartedWorker> live;
	std::vector<BackgroundWorkerHandle *> kept;
	for (BackgroundWorkerHandle *handle : workers) {
		pid_t pid = 0;
		BgwHandleStatus status = pg_eval([&, handle] { return GetBackgroundWorkerPid(handle, &pid); });
		if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED) {
			pg_call([handle] { pfree(handle); });
			continue;
		}
		kept.push_back(handle);
		live.push_back({status, pid});
	}
	workers = std::move(kept);
	return live;
}

} // namespace tb::pg
