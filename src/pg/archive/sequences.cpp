#include "pg/archive/sequences.hpp"

#include "pg/boundary/as_table_owner.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/catalog/audit.hpp"
#include "pg/archive/pending_sequences.hpp"
#include "pg/boundary/spi.hpp"
#include "pg/catalog/tenant_tables.hpp"

#include <optional>
#include <string>

namespace tb::pg {

namespace {

// The part of a sequence's range an archive may move it into.
constexpr const char *kRangeShare = "0.9";

// The sequences owned by columns of $1 (serial: 'a', identity: 'i'), in oid order: oid, quoted
// schema.sequence, quoted column, and schema, sequence and column names for messages.
const char *const kOwnedSequences =
    "SELECT s.oid, pg_catalog.quote_ident(sn.nspname) OPERATOR(pg_catalog.||) '.' "
    "         OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.relname), "
    "       pg_catalog.quote_ident(a.attname), sn.nspname::text, s.relname::text, "
    "       a.attname::text "
    "FROM pg_catalog.pg_depend d "
    "JOIN pg_catalog.pg_class s ON s.oid OPERATOR(pg_catalog.=) d.objid "
    " AND s.relkind OPERATOR(pg_catalog.=) 'S' "
    "JOIN pg_catalog.pg_namespace sn ON sn.oid OPERATOR(pg_catalog.=) s.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) d.refobjid "
    " AND a.attnum OPERATOR(pg_catalog.=) d.refobjsubid "
    "WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
    "  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
    "  AND d.refobjid OPERATOR(pg_catalog.=) $1 AND d.deptype IN ('a', 'i') "
    "ORDER BY s.oid";

} // namespace

void require_sequence_privileges(const std::vector<ArchivedTable> &tables, int64 backup_id, const std::string &tenant,
                                 const char *action) {
	std::string missing, sequences;
	for (const auto &t : tables) {
		std::string display = quoted_name(t.schema, t.name);
		const char *schema = t.schema.c_str(), *name = t.name.c_str();
		Oid relid = pg_eval([=] {
			Oid nsp = get_namespace_oid(schema, true);
			return OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
		});
		if (!OidIsValid(relid))
			continue;
		SqlParams of_relid = SqlParams().oid(relid);
		uint64 rows = pg_eval([&] { return spi_run(kOwnedSequences, of_relid, true, SPI_OK_SELECT); });
		for (uint64 r = 0; r < rows; r++) {
			struct {
				bool select, update;
				char *sequence, *column;
			} s{};
			pg_call([&] {
				bool isnull;
				Oid seq = DatumGetObjectId(spi_datum(r, 1, &isnull));
				s.sequence = spi_text(r, 2);
				s.column = spi_text(r, 6);
				s.select = pg_class_aclcheck(seq, GetUserId(), ACL_SELECT) == ACLCHECK_OK;
				s.update = pg_class_aclcheck(seq, GetUserId(), ACL_UPDATE) == ACLCHECK_OK;
			});
			if (s.select && s.update)
				continue;
			std::string privileges = !s.select && !s.update ? "SELECT, UPDATE" : !s.select ? "SELECT" : "UPDATE";
			missing += (missing.empty() ? "" : "; ") + privileges + " on sequence " + s.sequence + " (column \"" +
			           s.column + "\" of table " + display + ")";
			sequences += (sequences.empty() ? "" : ", ") + std::string(s.sequence);
		}
	}
	if (missing.empty())
		return;
	std::string role = pg_eval([] { return static_cast<const char *>(GetUserNameFromId(GetUserId(), false)); });
	std::string message = "permission denied: role \"" + role + "\" may not restore backup " +
	                      std::to_string(backup_id) + ", it lacks " + missing + "; nothing was restored";
	audit_autonomously({action, tenant, backup_id, "denied", message});
	throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE, message,
	               "A restore reads every sequence owned by a column of a restored table (serial, identity) and "
	               "advances it past the restored values: it needs SELECT and UPDATE on each.",
	               "GRANT SELECT, UPDATE ON SEQUENCE " + sequences + " TO " + quoted_ident(role) + ";");
}

std::vector<SequenceMove> plan_sequence_moves(const RestoredTable &table, int64 backup_id) {
	Oid relid = table.plan.relid;
	SqlParams of_relid = SqlParams().oid(relid);
	uint64 rows = pg_eval([&] { return spi_run(kOwnedSequences, of_relid, true, SPI_OK_SELECT); });
	struct Owned {
		Oid seq;
		std::string seq_name, column; // quoted identifiers
		std::string display;          // for messages
	};
	std::vector<Owned> owned;
	for (uint64 r = 0; r < rows; r++) {
		Oid seq = InvalidOid;
		char *text[5];
		pg_call([&] {
			bool isnull;
			seq = DatumGetObjectId(spi_datum(r, 1, &isnull));
			for (int i = 0; i < 5; i++)
				text[i] = spi_text(r, i + 2);
		});
		owned.push_back({seq, text[0], text[1],
		                 "sequence " + std::string(text[2]) + "." + text[3] + " of column \"" + text[4] + "\""});
	}
	std::vector<SequenceMove> moves;
	for (const auto &o : owned) {
		// The caller's right to read and move the sequence, as the statement below and setval at
		// commit need it (setval checks again then).
		Oid seq = o.seq;
		pg_call([seq] {
			AclResult acl = pg_class_aclcheck(seq, GetUserId(), ACL_SELECT | ACL_UPDATE);
			if (acl != ACLCHECK_OK)
				aclcheck_error(acl, OBJECT_SEQUENCE, get_rel_name(seq));
		});
		// A sequence that has not been used yet hands out last_value itself next: it must then
		// be moved when the tenant already has that value.
		std::string sql =
		    "SELECT m.v, m.v::pg_catalog.numeric OPERATOR(pg_catalog.>) (p.seqmin::pg_catalog.numeric "
		    "         OPERATOR(pg_catalog.+) ((p.seqmax::pg_catalog.numeric OPERATOR(pg_catalog.-) p.seqmin) "
		    "         OPERATOR(pg_catalog.*) " +
		    std::string(kRangeShare) +
		    "))"
		    ", p.seqmax "
		    "FROM (SELECT pg_catalog.max(ch." +
		    o.column + ")::pg_catalog.int8 AS v" + table.plan.table.tenant_rows_sql() +
		    ") m, pg_catalog.pg_sequence p, " + o.seq_name +
		    " q WHERE p.seqrelid OPERATOR(pg_catalog.=) $2 AND p.seqincrement OPERATOR(pg_catalog.>) 0 "
		    "  AND m.v IS NOT NULL AND (m.v OPERATOR(pg_catalog.>) q.last_value "
		    "   OR (NOT q.is_called AND m.v OPERATOR(pg_catalog.>=) q.last_value))";
		const char *q = sql.c_str();
		Oid tenant_type = table.plan.tenant_type;
		Datum tenant = table.tenant;
		struct {
			bool found, beyond;
			int64 value, max;
		} r{};
		// Citus refuses to read placements this transaction modified as another user: a
		// distributed table is read as the role that loaded it (AsTableOwner).
		std::optional<AsTableOwner> owner;
		if (table.distributed)
			owner.emplace(table.plan.relid);
		SqlParams params = SqlParams().datum(tenant_type, tenant).oid(seq);
		pg_call([&] {
			if (spi_run(q, params, false, SPI_OK_SELECT) == 0)
				return;
			bool isnull;
			r.found = true;
			r.value = DatumGetInt64(spi_datum(0, 1, &isnull));
			r.beyond = DatumGetBool(spi_datum(0, 2, &isnull));
			r.max = DatumGetInt64(spi_datum(0, 3, &isnull));
		});
		if (!r.found)
			continue;
		if (r.beyond)
			throw SqlError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
			               "backup " + std::to_string(backup_id) + " would move " + o.display + " of table " +
			                   table.plan.display_name + " to " + std::to_string(r.value) +
			                   ", beyond 90% of its range (maximum " + std::to_string(r.max) +
			                   "); nothing was restored",
			               "Sequences are shared by every tenant: a restore may not move one into the last 10% "
			               "of its range.",
			               "Check the backup's ids; to restore it anyway, widen the sequence first (ALTER "
			               "SEQUENCE ... AS bigint MAXVALUE ...).");
		moves.push_back({seq, r.value});
	}
	return moves;
}

void advance_sequences_at_commit(const std::vector<SequenceMove> &moves, int64 backup_id, const std::string &tenant) {
	Oid user = pg_eval([] { return GetUserId(); });
	for (const auto &m : moves)
		advance_sequence_at_commit(m.sequence, m.value, user, backup_id, tenant);
}

} // namespace tb::pg
