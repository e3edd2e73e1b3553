// The launcher: keeps one scheduler worker running per database it serves. With
// tenant_backup.databases = '*' (the default), those are the databases where the extension is
// created, found as TimescaleDB's launcher finds them: it reads pg_database (it is connected to
// no database, so it sees only the shared catalogs), starts a scheduler in each database that
// takes connections, and a scheduler that finds no extension exits at once. Such a database is
// left alone until a backend asks (CREATE EXTENSION, or backup_schedule_set where no scheduler
// serves, wake it at commit) or kReprobeSeconds have passed: one short connection per database
// per ten minutes at most, never one every pass. pg_database itself is read every
// kRescanSeconds and when a backend wakes it. A list of names keeps the old behaviour: a
// scheduler each, which waits for the extension to be created.
#include "pg/boundary/guard.hpp"
#include "pg/scheduler/scheduler.hpp"
#include "pg/shared_memory/scheduler_registry.hpp"
#include "pg/boundary/background_workers.hpp"
#include "pg/boundary/settings.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"
#include "utils/timestamp.h"
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
constexpr int64_t kRescanSeconds = 60;   // pg_database is read again (new databases)
constexpr int64_t kReprobeSeconds = 600; // a database found without the extension is looked at again

struct Started {
	BackgroundWorkerHandle *handle;
	bool served_seen; // it registered as serving its database (it found the extension)
};
std::map<std::string, Started> schedulers; // the ones this launcher started
MemoryContext pass_context = nullptr;      // what one pass allocates, freed at the next

// '*': the databases that take connections (templates are left alone: a connection to one would
// make CREATE DATABASE from it fail), read at most every kRescanSeconds; and those found
// without the extension, with when.
std::set<std::string> connectable;
int64_t last_scan = 0;
bool scan_due = true;
std::map<std::string, int64_t> without_extension;

int64_t now_seconds() {
	return pg_eval([] { return static_cast<int64_t>(timestamptz_to_time_t(GetCurrentTimestamp())); });
}

// Plain C calls, in a transaction of the launcher's own: the names, palloc'd in pass_context.
List *scan_pg_database() {
	List *names = nullptr;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void)GetTransactionSnapshot();
	Relation rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
	HeapTuple tuple;
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
		Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
		if (!db->datallowconn || db->datistemplate || db->datconnlimit == -2) // -2: being dropped (invalid)
			continue;
		MemoryContext old = MemoryContextSwitchTo(pass_context);
		names = lappend(names, pstrdup(NameStr(db->datname)));
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return names;
}

std::set<std::string> wanted_databases() {
	if (!setting_all_databases()) {
		without_extension.clear();
		scan_due = true;
		bool valid = true;
		std::vector<std::string> names = setting_database_names(valid);
		if (!valid)
			pg_call(
			    [] { ereport(WARNING, (errmsg("tenant_backup.databases is not a valid list of database names"))); });
		return std::set<std::string>(names.begin(), names.end());
	}
	int64_t now = now_seconds();
	bool all = false;
	std::vector<std::string> asked = take_launcher_requests(all);
	if (all)
		without_extension.clear();
	for (const auto &name : asked)
		without_extension.erase(name);
	if (scan_due || all || !asked.empty() || now - last_scan >= kRescanSeconds) {
		List *names = pg_eval([] { return scan_pg_database(); });
		connectable.clear();
		int count = pg_eval([&] { return list_length(names); });
		for (int i = 0; i < count; i++)
			connectable.insert(pg_eval([&] { return static_cast<const char *>(list_nth(names, i)); }));
		last_scan = now;
		scan_due = false;
	}
	std::set<std::string> wanted;
	for (const auto &name : connectable) {
		auto absent = without_extension.find(name);
		if (absent != without_extension.end() && now - absent->second < kReprobeSeconds)
			continue;
		if (absent != without_extension.end())
			without_extension.erase(absent);
		wanted.insert(name);
	}
	for (auto it = without_extension.begin(); it != without_extension.end();) // dropped meanwhile
		it = connectable.count(it->first) ? std::next(it) : without_extension.erase(it);
	return wanted;
}

void forget(std::map<std::string, Started>::iterator it) {
	BackgroundWorkerHandle *handle = it->second.handle;
	pg_call([handle] { pfree(handle); });
	schedulers.erase(it);
}

void sync_schedulers() {
	pg_call([] {
		if (!pass_context)
			pass_context = AllocSetContextCreate(TopMemoryContext, "tenant_backup launcher", ALLOCSET_SMALL_SIZES);
		MemoryContextReset(pass_context);
	});
	std::vector<ServedDatabase> served = served_databases();
	for (const auto &d : served) {
		auto it = schedulers.find(d.database);
		if (it != schedulers.end())
			it->second.served_seen = true;
	}
	// '*': a scheduler that stopped without ever serving its database found no extension there.
	bool all = setting_all_databases();
	for (auto it = schedulers.begin(); all && it != schedulers.end();) {
		auto next = std::next(it);
		pid_t pid;
		BackgroundWorkerHandle *handle = it->second.handle;
		if (!it->second.served_seen && pg_eval([&] { return GetBackgroundWorkerPid(handle, &pid); }) == BGWH_STOPPED) {
			without_extension[it->first] = now_seconds();
			forget(it);
		}
		it = next;
	}
	std::set<std::string> wanted = wanted_databases();
	for (auto it = schedulers.begin(); it != schedulers.end();) {
		auto next = std::next(it);
		if (!wanted.count(it->first)) {
			BackgroundWorkerHandle *handle = it->second.handle;
			pg_call([handle] { TerminateBackgroundWorker(handle); });
			forget(it);
		}
		it = next;
	}
	// Schedulers this launcher did not start (an earlier launcher did, before it was restarted).
	std::map<std::string, int> others;
	for (const auto &d : served)
		if (!schedulers.count(d.database))
			others[d.database] = d.pid;
	for (const auto &[name, pid] : others)
		if (!wanted.count(name))
			kill(pid, SIGTERM); // what TerminateBackgroundWorker would do with a handle
	for (const auto &name : wanted) {
		// A scheduler that stopped (it failed, say its database does not exist yet; it was
		// terminated) is started again; a duplicate would exit at once.
		auto it = schedulers.find(name);
		if (it != schedulers.end()) {
			pid_t pid;
			BackgroundWorkerHandle *handle = it->second.handle;
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
		schedulers[name] = {handle, false};
	}
}

} // namespace

void register_launcher() {
	BackgroundWorker worker =
	    worker_definition("tenant_backup_launcher_main", "tenant_backup launcher", kLauncherRestartSeconds, true);
	RegisterBackgroundWorker(&worker);
}

} // namespace tb::pg

extern "C" PGDLLEXPORT void tenant_backup_launcher_main(Datum arg);

void tenant_backup_launcher_main(Datum) {
	tb::pg::worker_signals(); // no SQL here: it stops at its next wake-up, within moments
	// Connected to no database: it reads the shared catalogs only (pg_database).
	BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
	tb::pg::register_launcher_process(); // backends wake it (CREATE EXTENSION)
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
