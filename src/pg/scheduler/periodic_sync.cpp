#include "pg/scheduler/periodic_sync.hpp"

#include "pg/catalog/audit.hpp"
#include "pg/scheduler/jobs.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/repository/sync.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/warnings.hpp"
#include "pg/boundary/settings.hpp"

extern "C" {
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
}

#include <algorithm>
#include <chrono>
#include <functional>
#include <climits>

namespace tb::pg {

namespace {

BackgroundWorkerHandle *sync_worker = nullptr;
std::chrono::steady_clock::time_point last_started;
bool started_once = false;

// Each of the sync's transactions first locks the extension's tables without waiting
// (lock_extension_tables). A sync worker started just as the extension is dropped would otherwise
// hold one of its tables while waiting for another DROP EXTENSION holds: a deadlock, in which the
// DROP could be the one aborted. It stops instead and tries again a second later, for a minute at
// most (a table may be locked for a while, by VACUUM FULL say; a dropped extension ends it at once).
struct ExtensionBusy {};

bool sync_worker_running() {
	if (!sync_worker)
		return false;
	pid_t pid;
	BgwHandleStatus status = pg_eval([&] { return GetBackgroundWorkerPid(sync_worker, &pid); });
	if (status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED)
		return true;
	pg_call([] { pfree(sync_worker); });
	sync_worker = nullptr;
	return false;
}

// In the sync worker: one synchronize_repositories, its outcome logged (with how many
// transactions it took, and the longest), and audited when it did something (an idle repair every
// hour would only bury the audit trail). False: a table of the extension was locked (ExtensionBusy);
// what it did (committed) stays in `work`, logged and audited with the try that ends.
SyncSummary work; // of every try of this worker
bool run_sync() {
	int transactions = 1;
	double longest = 0;
	auto started = std::chrono::steady_clock::now();
	auto lap = [&] {
		auto now = std::chrono::steady_clock::now();
		longest = std::max(longest, std::chrono::duration<double>(now - started).count());
		started = now;
		transactions++;
	};
	// The extension the first lock found: dropped and created again between two transactions, the
	// rest of this run's findings are another catalog's.
	Oid extension = InvalidOid;
	auto lock_or_stop = [&] {
		Oid now =
		    lock_extension_tables() ? pg_eval([] { return get_extension_oid("tenant_backup", true); }) : InvalidOid;
		if (!OidIsValid(now) || (OidIsValid(extension) && now != extension))
			throw ExtensionBusy{};
		extension = now;
	};
	bool busy = false;
	ErrorData *error = run_in_transaction("tenant_backup sync", [&] {
		// In short transactions: the catalog's copies read in parts, the repositories listed
		// outside any transaction, a hundred actions or one copy stored per transaction.
		TransactionBreaks breaks{[&] {
			                         lap();
			                         commit_and_continue("tenant_backup sync");
			                         lock_or_stop();
		                         },
		                         [&](const std::function<void()> &fn) {
			                         lap();
			                         // (a failed listing is rethrown after the lock: its caller goes on)
			                         std::exception_ptr failed;
			                         commit_and_continue("tenant_backup sync", [&] {
				                         try {
					                         fn();
				                         } catch (...) {
					                         failed = std::current_exception();
				                         }
				                         started = std::chrono::steady_clock::now(); // not in a transaction
			                         });
			                         lock_or_stop();
			                         if (failed)
				                         std::rethrow_exception(failed);
		                         }};
		try {
			lock_or_stop();
			(void)synchronize_repositories([](const SyncRow &row) { work.add(row); }, breaks);
		} catch (const ExtensionBusy &) {
			// (a dropped extension leaves nothing to try again)
			busy = OidIsValid(pg_eval([] { return get_extension_oid("tenant_backup", true); }));
			return;
		}
		if (work.done + work.failed > 0)
			audit_in_transaction({"sync", "", 0, "ok", "periodic: " + work.text()});
	});
	lap();
	if (busy && !error)
		return false;
	if (error) {
		std::string message = std::string("tenant_backup sync: ") + (error->message ? error->message : "error");
		pg_call([error] { FreeErrorData(error); });
		log_message(WARNING, message);
		return true;
	}
	char took[100];
	snprintf(took, sizeof(took), ", in %d transactions (the longest %.2f s)", transactions - 1, longest);
	if (work.failed > 0)
		log_message(WARNING, "tenant_backup sync: " + work.text() + took + "; first failure: " + work.first_error);
	else
		log_message(work.done > 0 ? LOG : DEBUG1, "tenant_backup sync: " + work.text() + took);
	return true;
}

void log_gave_up() {
	log_message(LOG, "tenant_backup sync: a table of the extension stayed locked for a minute: not synchronized "
	                 "until the next interval (tenant_backup.sync_interval); " +
	                     work.text() + " before it stopped" +
	                     (work.first_error.empty() ? "" : "; first failure: " + work.first_error));
}

} // namespace

int64_t start_sync_if_due() {
	int interval = setting_sync_interval();
	if (interval <= 0 || sync_worker_running())
		return interval <= 0 ? INT64_MAX : interval;
	auto now = std::chrono::steady_clock::now();
	int64_t since = std::chrono::duration_cast<std::chrono::seconds>(now - last_started).count();
	if (started_once && since < interval)
		return interval - since;
	Oid db = pg_eval([] { return MyDatabaseId; });
	sync_worker = pg_eval(
	    [&] { return start_worker("tenant_backup_sync_main", "tenant_backup sync", std::to_string(db), 0, true); });
	if (sync_worker) { // no free worker slot: tried again at the next pass
		last_started = now;
		started_once = true;
	}
	return interval;
}

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_sync_main(Datum arg);

void tenant_backup_sync_main(Datum) {
	tb::pg::worker_signals();
	Oid database = static_cast<Oid>(strtoul(MyBgworkerEntry->bgw_extra, nullptr, 10));
	tb::pg::worker_connect(database, nullptr, "tenant_backup sync");
	constexpr int kTries = 60; // a second apart
	bool done = false;
	for (int tried = 1; !ShutdownRequestPending; tried++) {
		tb::pg::cpp_call([&] { done = tb::pg::run_sync(); });
		if (done || tried == kTries)
			break;
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (!done && !ShutdownRequestPending)
		tb::pg::cpp_call([] { tb::pg::log_gave_up(); });
	proc_exit(0);
}
