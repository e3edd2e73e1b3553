// The audit trail, tenant_backup.backup_audit: every action of our SQL functions and every
// denied or failed attempt, also logged to the server log as one line ("tenant_backup audit:").
//
// A completed action that changes something is written in the caller's transaction, so it is
// recorded exactly when the action itself commits. Two kinds of event must outlive the caller's
// transaction: a denied or failed attempt (the transaction is about to abort), and an action
// that returned data (download, CSV exports, verify: the data has left even if the caller rolls
// back). They are recorded independently of it:
// - preloaded (shared_preload_libraries) with a scheduler serving the database: queued in shared
//   memory (audit_queue.hpp) and written by the scheduler within moments. Queueing needs no
//   worker slot and touches no catalog, so it is safe right after an error was caught.
// - otherwise: written by a short-lived background worker, in a transaction of its own. Nothing
//   waits for it where it is started (for a failure that is before the abort); the session's next
//   audited call, and a data-returning call for its own event, wait for it, at most 10 s and
//   never past a cancel or termination, so a session runs one writer at a time.
// An event that cannot be written that way (a full queue, no free worker slot, a hot standby) is
// in the server log with a line starting "tenant_backup audit: NOT RECORDED"; the caller is
// never blocked for it. On a hot standby every event, including those of actions that change
// nothing (backup_repository_check), is in the server log only.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <string>

namespace tb::pg {

struct AuditEvent {
	std::string action;  // create, restore, delete, verify, download, export, import, grant, revoke
	std::string tenant;  // "" when no tenant is concerned
	int64 backup_id = 0; // 0 when no backup is concerned
	std::string outcome; // ok, denied, failed
	std::string error;
};

// Who acts: looked up when the action starts (catalog lookups), so that recording a failure later
// needs none.
struct AuditIdentity {
	std::string session_user, current_user, client;
};
AuditIdentity current_identity();

void audit_in_transaction(const AuditEvent &event);
void audit_autonomously(const AuditEvent &event);

// The scheduler of a preloaded library: writes the queued events of its database into
// tenant_backup.backup_audit, each in a subtransaction (one that fails is logged and skipped).
// Outside any transaction; starts its own.
void drain_audit_queue();

// One SQL function's action. ok() records it in the transaction; ok_independently() records it
// outside (for actions that return data). If the function fails instead (an exception leaves the
// scope), the failure is recorded independently with the error message by the entry-point guard.
class AuditedAction {
public:
	explicit AuditedAction(const char *action, std::string tenant = "", int64 backup_id = 0);
	~AuditedAction();
	AuditedAction(const AuditedAction &) = delete;
	AuditedAction &operator=(const AuditedAction &) = delete;
	void set_tenant(const std::string &tenant) { event_.tenant = tenant; }
	void set_backup(int64 id) { event_.backup_id = id; }
	// Records the action as done; `note` goes to the error column (e.g. a verification's verdict).
	void ok(const std::string &note = "");
	// Records the action as done, independently of the caller's transaction.
	void ok_independently(const std::string &note = "");
	const char *action() const { return event_.action.c_str(); }

private:
	AuditEvent event_;
	AuditIdentity who_;
	int exceptions_at_start_;
	bool done_ = false;
};

} // namespace tb::pg
