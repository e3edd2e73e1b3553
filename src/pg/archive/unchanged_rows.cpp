#include "pg/archive/unchanged_rows.hpp"

#include "pg/archive/citus_tables.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>

extern "C" {
#include "access/transam.h"
#include "access/xlog.h"
#include "catalog/pg_am_d.h"
#include "mb/pg_wchar.h"
}

namespace tb::pg {

namespace {

// At most this many transactions between the backup and the comparison: well within the 2^31
// where 32-bit xids compare exactly modulo 2^32 (a row inserted since has an xid in between).
constexpr uint64 kMaxXidsSince = uint64{1} << 30;

bool same_encoding() {
	return pg_eval([] { return pg_get_client_encoding() == GetDatabaseEncoding(); });
}

std::string system_identifier() {
	return std::to_string(pg_eval([] { return GetSystemIdentifier(); }));
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
	return BackupReadHorizon{xmin, system_identifier()};
}

std::optional<TransactionId> unchanged_before(int64 backup_id, const RestoredTable &t) {
	const TableRestorePlan &plan = t.plan;
	if (plan.dropped || plan.table.is_path() || plan.table.relkind != 'r' || !plan.mapping.conversions.empty() ||
	    t.distributed || !same_encoding())
		return std::nullopt;
	auto recorded = spi_query("SELECT snapshot_xmin::pg_catalog.text, system_identifier FROM tenant_backup.backups "
	                          "WHERE id OPERATOR(pg_catalog.=) $1::pg_catalog.int8 AND original_id IS NULL",
	                          {std::to_string(backup_id)});
	if (recorded.size() != 1 || !recorded[0][0] || recorded[0][1] != system_identifier())
		return std::nullopt;
	uint64 horizon = std::stoull(*recorded[0][0]);
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
	auto columns = spi_query("SELECT a.attname::pg_catalog.text, a.xmin::pg_catalog.text, a.atttypid::pg_catalog.text "
	                         "FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) "
	                         "$1::pg_catalog.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped",
	                         {std::to_string(plan.relid)});
	for (const auto &name : plan.load) {
		auto column = std::find_if(columns.begin(), columns.end(), [&](const SqlRow &c) { return c[0] == name; });
		if (column == columns.end() || !older((*column)[1], before))
			return std::nullopt;
		auto type = static_cast<Oid>(std::stoul(*(*column)[2]));
		if (pg_eval([type] { return getBaseType(type); }) >= FirstNormalObjectId)
			return std::nullopt; // an enum's labels, an extension type's output: not the row's bytes alone
	}
	return before;
}

} // namespace tb::pg
