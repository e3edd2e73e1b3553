// The audit trail, tenant_backup.backup_audit: every action of our SQL functions and every
// denied or failed attempt, also logged to the server log as one line ("tenant_backup audit:").
//
// A completed action is written in the caller's transaction, so it is recorded exactly when the
// action itself commits. A denied or failed attempt must outlive the caller's transaction, which
// is about to abort: it is written by a short-lived background worker, in a transaction of its
// own, while the caller waits (a few milliseconds). Denials are rare, and a worker needs no
// credentials or extra connection settings, unlike a loopback connection. Without a free worker
// slot (max_worker_processes) the event is still in the server log, with a WARNING saying so.
#pragma once
#include "pg/pg_headers.hpp"

#include <string>

namespace tb::pg {

struct AuditEvent {
	std::string action;  // create, restore, delete, verify, download, export, import, grant, revoke
	std::string tenant;  // "" when no tenant is concerned
	int64 backup_id = 0; // 0 when no backup is concerned
	std::string outcome; // ok, denied, failed
	std::string error;
};

void audit_in_transaction(const AuditEvent &event);
void audit_autonomously(const AuditEvent &event);

// One SQL function's action. ok() records it in the transaction; if the function fails instead
// (an exception leaves the scope), the failure is recorded autonomously with the error message
// by the entry-point guard.
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
	const char *action() const { return event_.action.c_str(); }

private:
	AuditEvent event_;
	int exceptions_at_start_;
	bool done_ = false;
};

} // namespace tb::pg
