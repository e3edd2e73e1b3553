#include "pg/archive/unchanged_rows.hpp"

#include "pg/archive/citus_tables.hpp"
#include "pg/archive/diff_apply.hpp"
#include "pg/boundary/as_table_owner.hpp"
#include "pg/archive/column_mapping.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>

extern "C" {
#include "access/transam.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "catalog/pg_am_d.h"
#include "mb/pg_wchar.h"
}

namespace tb::pg {

namespace {

// At most this many transactions between the backup and the comparison: well within the 2^31
// where 32-bit xids compare exactly modulo 2^32 (a row inserted since has an xid in between).
constexpr uint64 kMaxXidsSince = uint64{1} << 30;

// Rows whose xmin mostly_written_since reads: enough to tell most written from a few, and a read
// of few pages (it is on the path of every restore that compares).
constexpr uint64 kWrittenSampleRows = 200;

bool same_encoding() {
	return pg_eval([] { return pg_get_client_encoding() == GetDatabaseEncoding(); });
}

std::string system_identifier() {
	return std::to_string(pg_eval([] { return GetSystemIdentifier(); }));
}

TimeLineID current_timeline() {
	return pg_eval([] {
		TimeLineID timeline = 0;
		if (RecoveryInProgress())
			(void)GetXLogReplayRecPtr(&timeline);
		else
			timeline = GetWALInsertionTimeLine();
		return timeline;
	});
}

// Whether WAL position `lsn` of `timeline` is in this server's past on its own timeline. A server
// restored to a point before it (a point-in-time recovery, which then starts a timeline of its
// own) gives out the transaction ids after that point again. Backups of an earlier timeline (before
// a promotion) are not trusted either: telling whether they are on this one's history means reading
// its history file, which ends the session (FATAL) when the file cannot be read.
bool on_this_timeline(TimeLineID timeline, uint64 lsn) {
	if (timeline != current_timeline())
		return false;
	return pg_eval(
	    [lsn] { return lsn <= (RecoveryInProgress() ? GetXLogReplayRecPtr(nullptr) : GetXLogInsertRecPtr()); });
}

// A catalog row's (or a table row's) xmin, as text, committed before `before`.
bool older(const std::optional<std::string> &xmin, TransactionId before) {
	if (!xmin)
		return false;
	auto xid = static_cast<TransactionId>(std::stoul(*xmin));
	return TransactionIdIsNormal(xid) && TransactionIdPrecedes(xid, before);
}

} // namespace

std::optional<BackupReadHorizon> read_horizon_of_active_snapshot() {
	if (!same_encoding())
		return std::nullopt;
	uint64 xmin = pg_eval([] {
		FullTransactionId next = ReadNextFullTransactionId();
		TransactionId snapshot_xmin = GetActiveSnapshot()->xmin;
		// The snapshot's xmin is at most the next xid: in its epoch, or the one before.
		uint64 epoch = EpochFromFullTransactionId(next);
		if (snapshot_xmin > XidFromFullTransactionId(next)) {
			if (epoch == 0)
				return uint64{0};
			epoch--;
		}
		uint64 full = (epoch << 32) | snapshot_xmin;
		// Its own transaction's later row versions keep its id: PostgreSQL counts it in the xmin
		// of the snapshots it takes; so does this, not to rest on that.
		FullTransactionId own = GetTopFullTransactionIdIfAny();
		if (FullTransactionIdIsValid(own))
			full = std::min(full, U64FromFullTransactionId(own));
		return full;
	});
	if (xmin == 0)
		return std::nullopt;
	uint64 lsn = pg_eval([] { return static_cast<uint64>(GetXLogInsertRecPtr()); });
	return BackupReadHorizon{xmin, system_identifier(), current_timeline(), lsn};
}

std::optional<TransactionId> unchanged_before(const StoredBackup &backup, const archive::TableHeader &header,
                                              const RestoredTable &t) {
	const TableRestorePlan &plan = t.plan;
	if (plan.dropped || plan.table.is_path() || plan.table.relkind != 'r' || !plan.mapping.conversions.empty() ||
	    t.distributed || !same_encoding())
		return std::nullopt;
	const std::optional<BackupReadHorizon> &recorded = backup.read_horizon;
	if (!recorded || backup.original_id || recorded->system_identifier != system_identifier() ||
	    !on_this_timeline(recorded->timeline, recorded->lsn))
		return std::nullopt;
	// The very relation and columns the backup read: not another table or column that
	// tenant_backup.restore_renames (or a rename) maps the archived one onto.
	const std::vector<bool> &keep = plan.mapping.keep;
	if (!same_database(header) || header.relid != plan.relid || header.attnums.size() != header.columns.size() ||
	    keep.size() != header.columns.size())
		return std::nullopt;
	uint64 horizon = recorded->xmin;
	uint64 next = pg_eval([] { return U64FromFullTransactionId(ReadNextFullTransactionId()); });
	if (horizon > next || next - horizon > kMaxXidsSince)
		return std::nullopt;
	auto before = static_cast<TransactionId>(horizon);
	if (!TransactionIdIsNormal(before) || citus_table(plan.relid))
		return std::nullopt;

	auto relation = spi_query("SELECT c.xmin::pg_catalog.text, n.xmin::pg_catalog.text FROM pg_catalog.pg_class c "
	                          "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
	                          "WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND c.relkind "
	                          "OPERATOR(pg_catalog.=) 'r' AND c.relam OPERATOR(pg_catalog.=) $2::pg_catalog.oid",
	                          {std::to_string(plan.relid), std::to_string(HEAP_TABLE_AM_OID)});
	if (relation.size() != 1 || !older(relation[0][0], before) || !older(relation[0][1], before))
		return std::nullopt;
	auto columns = spi_query("SELECT a.attname::pg_catalog.text, a.attnum::pg_catalog.text, a.xmin::pg_catalog.text, "
	                         "a.atttypid::pg_catalog.text FROM pg_catalog.pg_attribute a WHERE a.attrelid "
	                         "OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND "
	                         "NOT a.attisdropped",
	                         {std::to_string(plan.relid)});
	// Each kept archived field, and the live column it is compared with (plan.load, in order).
	size_t loaded = 0;
	for (size_t field = 0; field < keep.size(); field++) {
		if (!keep[field])
			continue;
		if (loaded >= plan.load.size())
			return std::nullopt;
		const std::string &name = plan.load[loaded++];
		auto column = std::find_if(columns.begin(), columns.end(), [&](const SqlRow &c) { return c[0] == name; });
		if (column == columns.end() || (*column)[1] != std::to_string(header.attnums[field]) ||
		    !older((*column)[2], before))
			return std::nullopt;
		auto type = static_cast<Oid>(std::stoul(*(*column)[3]));
		if (pg_eval([type] { return getBaseType(type); }) >= FirstNormalObjectId)
			return std::nullopt; // an enum's labels, an extension type's output: not the row's bytes alone
	}
	if (loaded != plan.load.size())
		return std::nullopt;
	return before;
}

bool mostly_written_since(TransactionId before, const RestoredTable &t) {
	AsTableOwner owner(t.plan.relid); // read as the restore reads it
	auto xmins = spi_query("SELECT ch.xmin::pg_catalog.text" + t.plan.table.tenant_rows_sql() + " LIMIT " +
	                           std::to_string(kWrittenSampleRows),
	                       SqlParams().datum(t.plan.tenant_type, t.tenant));
	if (xmins.size() < kWrittenSampleRows)
		return false;
	uint64 written = static_cast<uint64>(
	    std::count_if(xmins.begin(), xmins.end(), [&](const SqlRow &row) { return !older(row[0], before); }));
	return mostly_differ(written, xmins.size());
}

} // namespace tb::pg
