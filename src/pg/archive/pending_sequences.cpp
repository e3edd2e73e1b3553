#include "pg/archive/pending_sequences.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/boundary/search_path.hpp"
#include "pg/boundary/spi.hpp"

#include <string>
#include <vector>

namespace tb::pg {

namespace {

struct PendingMove {
	Oid sequence;
	int64 value;
	Oid user;
	SubTransactionId subxact;
	int64 backup_id;
	std::string tenant;
};

std::vector<PendingMove> pending_moves;

// Moves one sequence, if it still needs it, as the restoring user. The sequence is named at
// commit (it may have been renamed since the restore); one dropped since is skipped. PostgreSQL
// calls only: plain values, no C++ object with a destructor. `params` are $1 the sequence and $2
// the value.
void move_now(Oid sequence, const SqlParams &params, Oid user) {
	char *nsp = get_namespace_name(get_rel_namespace(sequence));
	char *name = get_rel_name(sequence);
	if (!nsp || !name)
		return;
	StringInfoData sql;
	initStringInfo(&sql);
	appendStringInfo(&sql,
	                 "SELECT pg_catalog.setval($1, $2) FROM %s.%s q "
	                 "WHERE $2 OPERATOR(pg_catalog.>) q.last_value "
	                 "   OR (NOT q.is_called AND $2 OPERATOR(pg_catalog.>=) q.last_value)",
	                 quote_identifier(nsp), quote_identifier(name));
	Oid saved_user;
	int saved_context;
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(user, saved_context | SECURITY_LOCAL_USERID_CHANGE);
	int level = pin_search_path_in_new_level();
	// The portal's snapshot is gone by pre-commit: the statement needs one of its own.
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spi_run(sql.data, params, false, SPI_OK_SELECT);
	SPI_finish();
	PopActiveSnapshot();
	AtEOXact_GUC(false, level);
	SetUserIdAndSecContext(saved_user, saved_context);
}

void on_xact(XactEvent event, void *) {
	switch (event) {
	case XACT_EVENT_PRE_COMMIT:
	case XACT_EVENT_PARALLEL_PRE_COMMIT:
		// Still allowed to fail here: an error aborts the transaction. The list is emptied first,
		// so that the abort that follows an error finds nothing left to do.
		cpp_call([] {
			std::vector<PendingMove> moves;
			moves.swap(pending_moves);
			for (const auto &m : moves) {
				// Failing here aborts the restore's audit row too: the failure is recorded
				// outside the transaction instead (by the guard, as for any audited action).
				AuditedAction audit("restore", m.tenant, m.backup_id);
				SqlParams params = SqlParams().datum(REGCLASSOID, ObjectIdGetDatum(m.sequence)).int8(m.value);
				pg_call([&] { move_now(m.sequence, params, m.user); });
			}
		});
		break;
	case XACT_EVENT_PRE_PREPARE:
		// COMMIT PREPARED runs no callback of ours: the moves would be lost, or made too early.
		if (!pending_moves.empty())
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			                errmsg("cannot PREPARE a transaction that restored a tenant backup")));
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PARALLEL_ABORT:
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PARALLEL_COMMIT:
		pending_moves.clear();
		break;
	default:
		break;
	}
}

void on_subxact(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) {
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		for (size_t i = pending_moves.size(); i-- > 0;)
			if (pending_moves[i].subxact == sub)
				pending_moves.erase(pending_moves.begin() + static_cast<long>(i));
	} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
		for (auto &m : pending_moves)
			if (m.subxact == sub)
				m.subxact = parent;
	}
}

} // namespace

void register_sequence_callbacks() {
	RegisterXactCallback(on_xact, nullptr);
	RegisterSubXactCallback(on_subxact, nullptr);
}

void advance_sequence_at_commit(Oid sequence, int64 value, Oid user, int64 backup_id, const std::string &tenant) {
	SubTransactionId sub = pg_eval([] { return GetCurrentSubTransactionId(); });
	pending_moves.push_back({sequence, value, user, sub, backup_id, tenant});
}

} // namespace tb::pg
