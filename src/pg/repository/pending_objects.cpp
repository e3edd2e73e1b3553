#include "pg/repository/pending_objects.hpp"

#include "pg/boundary/guard.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tb::pg {

namespace {

struct PendingWrite {
	std::unique_ptr<WriteObject> object;
	std::shared_ptr<Storage> storage; // where the archive is published, to take it back on abort
	SubTransactionId subxact;
};
// An archive renamed into place at pre-commit by a transaction that has not committed yet.
struct PublishedWrite {
	std::shared_ptr<Storage> storage;
	std::string name;
};
struct PendingRemoval {
	std::shared_ptr<Storage> storage;
	std::string name;
	SubTransactionId subxact;
};

std::vector<PendingWrite> pending_writes;
std::vector<PendingRemoval> pending_removals;
// The commit can still fail after our pre-commit callback (SERIALIZABLE conflicts found at commit,
// NOTIFY, later callbacks): then the published archive has no catalog row and is removed on abort.
std::vector<PublishedWrite> published_writes;
// Objects published before commit (off-site copies): removed on abort of their (sub)transaction.
std::vector<PendingRemoval> removals_on_abort;

// Removes objects while a transaction commits or aborts, where nothing may fail: errors are only
// reported (WARNING, by remove_all). After one failure in a repository the rest of its objects are not tried, so
// an unreachable endpoint costs one bounded attempt, not one per object; what is left has no
// catalog row and backup_sync() removes it later. `what` names the objects for the message.
template <typename T> void remove_all_into(const std::vector<const T *> &items, char *report, size_t size) {
	std::set<std::string> failed_repositories;
	std::string failures;
	size_t skipped = 0;
	try {
		for (const T *item : items) {
			std::string where = item->storage->describe("");
			if (failed_repositories.count(where)) {
				skipped++;
				continue;
			}
			try {
				item->storage->remove(item->name);
			} catch (const std::exception &e) {
				failed_repositories.insert(where);
				failures += (failures.empty() ? "" : "; ") + std::string(e.what());
			}
		}
		if (!failures.empty() && skipped)
			failures += " (" + std::to_string(skipped) + " more not tried)";
	} catch (...) {
		failures = failures.empty() ? "out of memory" : failures;
	}
	strlcpy(report, failures.c_str(), size);
}

template <typename T> void remove_all(const std::vector<const T *> &items, const char *what) {
	char report[2048]; // no C++ object is alive when ereport runs
	remove_all_into(items, report, sizeof(report));
	if (report[0])
		ereport(WARNING, (errmsg("tenant_backup: could not remove %s: %s", what, report),
		                  errhint("tenant_backup.backup_sync() removes them later.")));
}

template <typename T> std::vector<const T *> all_of(const std::vector<T> &items) {
	std::vector<const T *> out;
	for (const auto &item : items)
		out.push_back(&item);
	return out;
}

// Removes objects of an aborting (sub)transaction (all of them for nullopt).
void remove_now(std::vector<PendingRemoval> &items, const std::optional<SubTransactionId> &sub) {
	std::vector<const PendingRemoval *> doomed;
	for (const auto &item : items)
		if (!sub || item.subxact == *sub)
			doomed.push_back(&item);
	remove_all(doomed, "the copy of an aborted backup");
	if (sub)
		items.erase(
		    std::remove_if(items.begin(), items.end(), [&](const PendingRemoval &r) { return r.subxact == *sub; }),
		    items.end());
	else
		items.clear();
}

template <typename T> void forget_subxact(std::vector<T> &items, SubTransactionId sub) {
	for (size_t i = items.size(); i-- > 0;)
		if (items[i].subxact == sub)
			items.erase(items.begin() + static_cast<long>(i));
}

template <typename T> void reparent_subxact(std::vector<T> &items, SubTransactionId sub, SubTransactionId parent) {
	for (auto &item : items)
		if (item.subxact == sub)
			item.subxact = parent;
}

// COMMIT, ABORT and subtransaction callbacks may not raise an ERROR (after COMMIT it would be a
// PANIC that restarts the cluster), and a C++ exception must not unwind into PostgreSQL's commit
// machinery: one thrown by fn (bad_alloc) is caught and logged, and what fn did not remove is
// left to backup_sync(), which removes objects the catalog does not need. The caller clears its
// lists afterwards either way.
template <typename F> void never_throwing(const char *what, F &&fn) noexcept {
	bool failed = false;
	try {
		fn();
	} catch (...) {
		failed = true;
	}
	if (failed) // no C++ object of ours is alive here
		ereport(WARNING, (errmsg("tenant_backup: could not remove %s: out of memory", what),
		                  errhint("tenant_backup.backup_sync() removes them later.")));
}

void on_xact(XactEvent event, void *) {
	switch (event) {
	case XACT_EVENT_PRE_COMMIT:
	case XACT_EVENT_PARALLEL_PRE_COMMIT:
		// Still allowed to fail here: an error aborts the transaction, which discards the rest.
		cpp_call([] {
			for (auto &w : pending_writes) {
				published_writes.push_back({w.storage, w.object->name()}); // before: publish may fail after rename
				w.object->publish();
				w.object.reset();
			}
			pending_writes.clear();
		});
		break;
	case XACT_EVENT_PRE_PREPARE:
		// Published S3 copies are removed if this session's transaction aborts: a prepared one
		// would leave them to whatever transaction aborts next.
		if (!pending_writes.empty() || !pending_removals.empty() || !removals_on_abort.empty())
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			                errmsg("cannot PREPARE a transaction that created or deleted tenant backups")));
		break;
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PARALLEL_COMMIT: {
		// The commit is durable: an error now would be a PANIC, so failures are only reported.
		never_throwing("deleted archives",
		               [] { remove_all(all_of(pending_removals), "a deleted archive or key record"); });
		pending_removals.clear();
		published_writes.clear();
		removals_on_abort.clear();
		break;
	}
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PARALLEL_ABORT: {
		pending_writes.clear(); // destructors remove the temporary files
		pending_removals.clear();
		never_throwing("copies of aborted backups", [] { remove_now(removals_on_abort, std::nullopt); });
		removals_on_abort.clear();
		// Archives published at pre-commit of a commit that then failed.
		never_throwing("archives of aborted backups",
		               [] { remove_all(all_of(published_writes), "the archive of an aborted backup"); });
		published_writes.clear();
		break;
	}
	default:
		break;
	}
}

void on_subxact(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) {
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		forget_subxact(pending_writes, sub);
		forget_subxact(pending_removals, sub);
		never_throwing("copies of aborted backups", [sub] { remove_now(removals_on_abort, sub); });
		forget_subxact(removals_on_abort, sub); // done already, unless remove_now failed
	} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
		reparent_subxact(pending_writes, sub, parent);
		reparent_subxact(pending_removals, sub, parent);
		reparent_subxact(removals_on_abort, sub, parent);
	}
}

} // namespace

void register_transaction_callbacks() {
	RegisterXactCallback(on_xact, nullptr);
	RegisterSubXactCallback(on_subxact, nullptr);
}

void publish_at_commit(std::shared_ptr<Storage> storage, std::unique_ptr<WriteObject> object) {
	SubTransactionId sub = pg_eval([] { return GetCurrentSubTransactionId(); });
	pending_writes.push_back({std::move(object), std::move(storage), sub});
}

void remove_at_abort(std::shared_ptr<Storage> storage, const std::string &name) {
	SubTransactionId sub = pg_eval([] { return GetCurrentSubTransactionId(); });
	removals_on_abort.push_back({std::move(storage), name, sub});
}

bool awaiting_publication(const std::string &name) {
	for (const auto &w : pending_writes)
		if (w.object && w.object->name() == name)
			return true;
	return false;
}

bool awaiting_removal(const std::string &name) {
	for (const auto &r : pending_removals)
		if (r.name == name)
			return true;
	return false;
}

void remove_at_commit(std::shared_ptr<Storage> storage, const std::string &name) {
	SubTransactionId sub = pg_eval([] { return GetCurrentSubTransactionId(); });
	pending_removals.push_back({std::move(storage), name, sub});
}

} // namespace tb::pg
