// The launcher: keeps one scheduler worker running per database in tenant_backup.databases.
#include "pg/boundary/guard.hpp"
#include "pg/scheduler/scheduler.hpp"
#include "pg/shared_memory/scheduler_registry.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/settings.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "utils/varlena.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

#include <csignal>
#include <iterator>
#include <map>
#include <set>

namespace tb::pg {

namespace {

// The launcher restarts itself after a failure; schedulers are restarted by the launcher (at its
// next wake-up, within 10 s), never by the postmaster, so that there is one registration each.
constexpr int kLauncherRestartSeconds = 10;

std::map<std::string, BackgroundWorkerHandle *> schedulers; // the ones this launcher started
MemoryContext pass_context = nullptr;                       // what one pass allocates, freed at the next

std::set<std::string> wanted_databases() {
	// SplitIdentifierString: names as in search_path (quote a name with capitals or commas).
	const char *setting = setting_databases();
	std::set<std::string> names;
	List *list = nullptr;
	bool ok = pg_eval([&] {
		MemoryContext old = MemoryContextSwitchTo(pass_context);
		char *copy = pstrdup(setting ? setting : "");
		bool split = SplitIdentifierString(copy, ',', &list);
		MemoryContextSwitchTo(old);
		return split;
	});
	if (!ok) {
		pg_call([] { ereport(WARNING, (errmsg("tenant_backup.databases is not a valid list of database names"))); });
		return names;
	}
	for (int i = 0; i < pg_eval([&] { return list_length(list); }); i++)
		names.insert(pg_eval([&] { return static_cast<const char *>(list_nth(list, i)); }));
	return names;
}

void forget(std::map<std::string, BackgroundWorkerHandle *>::iterator it) {
	BackgroundWorkerHandle *handle = it->second;
	pg_call([handle] { pfree(handle); });
	schedulers.erase(it);
}

void sync_schedulers() {
	pg_call([] {
		if (!pass_context)
			pass_context = AllocSetContextCreate(TopMemoryContext, "tenant_backup launcher", ALLOCSET_SMALL_SIZES);
		MemoryContextReset(pass_context);
	});
	std::set<std::string> wanted = wanted_databases();
	for (auto it = schedulers.begin(); it != schedulers.end();) {
		auto next = std::next(it);
		if (!wanted.count(it->first)) {
			BackgroundWorkerHandle *handle = it->second;
			pg_call([handle] { TerminateBackgroundWorker(handle); });
			forget(it);
		}
		it = next;
	}
	// Schedulers this launcher did not start (an earlier launcher did, before it was restarted).
	std::map<std::string, int> others;
	for (const auto &served : served_databases())
		if (!schedulers.count(served.database))
			others[served.database] = served.pid;
	for (const auto &[name, pid] : others)
		if (!wanted.count(name))
			kill(pid, SIGTERM); // what TerminateBackgroundWorker would do with a handle
	for (const auto &name : wanted) {
		// A scheduler that stopped (it failed, say its database does not exist yet; it was
		// terminated) is started again; a duplicate would exit at once.
		auto it = schedulers.find(name);
		if (it != schedulers.end()) {
			pid_t pid;
			BackgroundWorkerHandle *handle = it->second;
			if (pg_eval([&] { return GetBackgroundWorkerPid(handle, &pid); }) != BGWH_STOPPED)
				continue;
			forget(it);
		}
		if (others.count(name))
			continue; // served by one an earlier launcher started: no duplicate every pass
		std::string worker_name = "tenant_backup scheduler";
		BackgroundWorkerHandle *handle =
		    pg_eval([&] { return start_worker("tenant_backup_scheduler_main", worker_name.c_str(), name, 0, true); });
		if (!handle) {
			pg_call([] {
				ereport(WARNING, (errmsg("tenant_backup: could not start a scheduler background worker"),
				                  errhint("Raise max_worker_processes.")));
			});
			continue; // tried again at the next wake-up
		}
		schedulers[name] = handle;
	}
}

} // namespace

void register_launcher() {
	BackgroundWorker worker =
	    worker_definition("tenant_backup_launcher_main", "tenant_backup launcher", kLauncherRestartSeconds, false);
	RegisterBackgroundWorker(&worker);
}

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_launcher_main(Datum arg);

void tenant_backup_launcher_main(Datum) {
	tb::pg::worker_signals(); // no SQL here: it stops at its next wake-up, within moments
	ereport(LOG, (errmsg("tenant_backup launcher started")));
	while (!ShutdownRequestPending) {
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		tb::pg::cpp_call([] { tb::pg::sync_schedulers(); });
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
