#include "pg/scheduler/checks.hpp"

#include "core/schedule/cron.hpp"
#include "pg/boundary/settings.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>
#include <vector>

namespace tb::pg {

namespace {

SqlValue epoch_text(std::optional<int64_t> t) {
	return t ? SqlValue(std::to_string(*t)) : std::nullopt;
}

std::optional<int64_t> next_at(const std::string &tenant, int64_t interval, int64_t after) {
	if (interval <= 0)
		return std::nullopt;
	return schedule::next_cadence_run(tenant, interval, after);
}

// The newest schema change's generation (0: none), by schema_changes_generation_idx.
int64_t newest_generation() {
	auto rows = spi_query("SELECT coalesce(max(generation), 0) FROM tenant_backup.schema_changes", {}, true);
	return std::stoll(*rows.at(0)[0]);
}

} // namespace

Cadence Cadence::from_settings() {
	return {setting_verify_interval(), setting_drill_interval()};
}

std::string Cadence::key() const {
	return std::to_string(verify_interval) + "|" + std::to_string(drill_interval);
}

std::optional<int64_t> Cadence::next_verify(const std::string &tenant, int64_t after) const {
	return next_at(tenant, verify_interval, after);
}

std::optional<int64_t> Cadence::next_drill(const std::string &tenant, int64_t after) const {
	return next_at(tenant, drill_interval, after);
}

std::optional<std::string> track_checked_tenants(const Cadence &cadence, int64_t now,
                                                 const std::optional<std::string> &after, int limit,
                                                 CheckChanges &changes) {
	// A loose scan of a tenant index of backups: one probe per tenant, however many backups each has.
	auto rows = spi_query("WITH RECURSIVE skip(v, n) AS ("
	                      "(SELECT b.tenant, 1 FROM tenant_backup.backups b WHERE b.status = 'completed' "
	                      "AND ($1::text IS NULL OR b.tenant > $1) ORDER BY b.tenant LIMIT 1) "
	                      "UNION ALL SELECT (SELECT b.tenant FROM tenant_backup.backups b WHERE b.status = 'completed' "
	                      "AND b.tenant > skip.v ORDER BY b.tenant LIMIT 1), skip.n + 1 FROM skip "
	                      "WHERE skip.v IS NOT NULL AND skip.n < $2::int) "
	                      "SELECT v FROM skip WHERE v IS NOT NULL ORDER BY n",
	                      {after, std::to_string(limit)}, true);
	std::vector<SqlValue> tenants, verify, drill;
	for (const auto &row : rows) {
		tenants.push_back(row[0]);
		verify.push_back(epoch_text(cadence.next_verify(*row[0], now)));
		drill.push_back(epoch_text(cadence.next_drill(*row[0], now)));
	}
	if (!tenants.empty())
		changes.added += static_cast<int>(
		    spi_query(
		        "INSERT INTO tenant_backup.check_state (tenant, cadence_key, next_verify_at, next_drill_at) "
		        "SELECT u.t, $4, to_timestamp(u.v), to_timestamp(u.d) "
		        "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(t, v, d) "
		        "ON CONFLICT DO NOTHING RETURNING 1",
		        {text_array_literal(tenants), text_array_literal(verify), text_array_literal(drill), cadence.key()})
		        .size());
	if (rows.size() < static_cast<size_t>(limit))
		return std::nullopt;
	return rows.back()[0];
}

std::optional<std::string> recompute_check_states(const Cadence &cadence, int64_t now,
                                                  const std::optional<std::string> &after, int limit,
                                                  CheckChanges &changes) {
	// In the primary key's order, from where the last batch stopped; the rows to recompute locked
	// without waiting for a worker that holds one.
	auto rows = spi_query("SELECT tenant, cadence_key OPERATOR(pg_catalog.<>) $3 FROM tenant_backup.check_state "
	                      "WHERE ($1::text IS NULL OR tenant > $1) ORDER BY tenant LIMIT $2::int",
	                      {after, std::to_string(limit), cadence.key()});
	std::vector<SqlValue> tenants, verify, drill;
	for (const auto &row : rows) {
		if (*row[1] != "t")
			continue;
		tenants.push_back(row[0]);
		verify.push_back(epoch_text(cadence.next_verify(*row[0], now)));
		drill.push_back(epoch_text(cadence.next_drill(*row[0], now)));
	}
	if (!tenants.empty())
		changes.recomputed += static_cast<int>(
		    spi_query(
		        "WITH free AS (SELECT s.tenant FROM tenant_backup.check_state s "
		        "JOIN unnest($1::text[]) AS f(t) ON s.tenant = f.t FOR UPDATE OF s SKIP LOCKED) "
		        "UPDATE tenant_backup.check_state s SET cadence_key = $4, next_verify_at = to_timestamp(u.v), "
		        "next_drill_at = to_timestamp(u.d) FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(t, v, d), "
		        "free WHERE s.tenant = u.t AND free.tenant = u.t RETURNING 1",
		        {text_array_literal(tenants), text_array_literal(verify), text_array_literal(drill), cadence.key()})
		        .size());
	if (rows.size() < static_cast<size_t>(limit))
		return std::nullopt;
	return rows.back()[0];
}

int due_checks(int limit, int64_t now, bool after_ddl) {
	if (limit <= 0)
		return 0;
	// Each part by its own index, in its order, at most `limit` rows each (without the order, a
	// generic plan may read the whole table for a count that finds nothing due).
	int64_t generation = after_ddl ? newest_generation() : 0;
	auto rows = spi_query("SELECT (SELECT count(*) FROM (SELECT FROM tenant_backup.check_state "
	                      "  WHERE next_verify_at <= to_timestamp($1::bigint) ORDER BY next_verify_at LIMIT $2::int) v) "
	                      "+ (SELECT count(*) FROM (SELECT FROM tenant_backup.check_state "
	                      "  WHERE next_drill_at <= to_timestamp($1::bigint) ORDER BY next_drill_at LIMIT $2::int) d) "
	                      "+ (SELECT count(*) FROM (SELECT FROM tenant_backup.check_state "
	                      "  WHERE schema_seen < $3::bigint ORDER BY schema_seen LIMIT $2::int) s)",
	                      {std::to_string(now), std::to_string(limit), std::to_string(generation)}, true);
	return static_cast<int>(std::min<int64_t>(std::stoll(*rows.at(0)[0]), limit));
}

std::optional<int64_t> earliest_check() {
	auto rows =
	    spi_query("SELECT extract(epoch FROM least((SELECT min(next_verify_at) FROM tenant_backup.check_state), "
	              "(SELECT min(next_drill_at) FROM tenant_backup.check_state)))::bigint",
	              {}, true);
	if (rows.empty() || !rows[0][0])
		return std::nullopt;
	return std::stoll(*rows[0][0]);
}

const char *check_kind_name(CheckKind kind) {
	switch (kind) {
	case CheckKind::SchemaChange:
		return "schema change";
	case CheckKind::Verify:
		return "verification";
	case CheckKind::Drill:
		return "drill";
	}
	return "check";
}

std::optional<CheckClaim> claim_next_check(int64_t now, bool after_ddl) {
	std::string at = std::to_string(now);
	if (after_ddl) {
		int64_t generation = newest_generation();
		auto rows =
		    spi_query("SELECT tenant, schema_seen FROM tenant_backup.check_state WHERE schema_seen < $1::bigint "
		              "ORDER BY schema_seen LIMIT 1 FOR UPDATE SKIP LOCKED",
		              {std::to_string(generation)});
		if (!rows.empty())
			return CheckClaim{*rows[0][0], CheckKind::SchemaChange, std::stoll(*rows[0][1]), generation};
	}
	auto rows = spi_query("SELECT tenant, schema_seen FROM tenant_backup.check_state "
	                      "WHERE next_verify_at <= to_timestamp($1::bigint) "
	                      "ORDER BY next_verify_at LIMIT 1 FOR UPDATE SKIP LOCKED",
	                      {at});
	if (!rows.empty())
		return CheckClaim{*rows[0][0], CheckKind::Verify, std::stoll(*rows[0][1]), 0};
	rows = spi_query("SELECT tenant, schema_seen FROM tenant_backup.check_state "
	                 "WHERE next_drill_at <= to_timestamp($1::bigint) "
	                 "ORDER BY next_drill_at LIMIT 1 FOR UPDATE SKIP LOCKED",
	                 {at});
	if (!rows.empty()) {
		// A drill checks the backup against the schema as it is now: every change so far is seen.
		return CheckClaim{*rows[0][0], CheckKind::Drill, std::stoll(*rows[0][1]), newest_generation()};
	}
	return std::nullopt;
}

std::optional<int64_t> newest_backup(const std::string &tenant) {
	auto rows = spi_query("SELECT id FROM tenant_backup.backups WHERE tenant = $1 AND status = 'completed' "
	                      "ORDER BY created_at DESC, id DESC LIMIT 1",
	                      {tenant}, true);
	if (rows.empty())
		return std::nullopt;
	return std::stoll(*rows[0][0]);
}

bool holds_changed_table(int64_t backup_id, int64_t since) {
	// The backup's tables by name now: a changed OID, or a name that no longer resolves.
	auto rows = spi_query(
	    "SELECT 1 FROM tenant_backup.backups b, pg_catalog.jsonb_array_elements(b.tables) t, "
	    "LATERAL (SELECT pg_catalog.to_regclass(pg_catalog.quote_ident(t->>'schema') OPERATOR(pg_catalog.||) '.' "
	    "OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t->>'name'))::pg_catalog.oid AS relid) r "
	    "WHERE b.id = $1::bigint AND (r.relid IS NULL OR EXISTS (SELECT FROM tenant_backup.schema_changes c "
	    "WHERE c.relid OPERATOR(pg_catalog.=) r.relid AND c.generation > $2::bigint)) LIMIT 1",
	    {std::to_string(backup_id), std::to_string(since)}, true);
	return !rows.empty();
}

void finish_check(const CheckClaim &claim, const Cadence &cadence, int64_t now, std::optional<int64_t> retry_at) {
	SqlValue verify, drill, seen;
	switch (claim.kind) {
	case CheckKind::Verify: {
		std::optional<int64_t> next = cadence.next_verify(claim.tenant, now);
		if (retry_at && (!next || *retry_at < *next))
			next = retry_at;
		verify = epoch_text(next);
		break;
	}
	case CheckKind::Drill:
		drill = epoch_text(cadence.next_drill(claim.tenant, now));
		seen = std::to_string(claim.schema_generation);
		break;
	case CheckKind::SchemaChange:
		seen = std::to_string(claim.schema_generation);
		break;
	}
	// What this check did not do keeps its time, recomputed if made under another cadence.
	SqlValue keep_verify = epoch_text(cadence.next_verify(claim.tenant, now));
	SqlValue keep_drill = epoch_text(cadence.next_drill(claim.tenant, now));
	spi_query("UPDATE tenant_backup.check_state SET "
	          "next_verify_at = CASE WHEN $2::boolean THEN to_timestamp($3::bigint) "
	          "  WHEN cadence_key OPERATOR(pg_catalog.<>) $8 THEN to_timestamp($6::bigint) ELSE next_verify_at END, "
	          "next_drill_at = CASE WHEN $4::boolean THEN to_timestamp($5::bigint) "
	          "  WHEN cadence_key OPERATOR(pg_catalog.<>) $8 THEN to_timestamp($7::bigint) ELSE next_drill_at END, "
	          "schema_seen = coalesce($9::bigint, schema_seen), cadence_key = $8 "
	          "WHERE tenant = $1",
	          {claim.tenant, claim.kind == CheckKind::Verify ? "t" : "f", verify,
	           claim.kind == CheckKind::Drill ? "t" : "f", drill, keep_verify, keep_drill, cadence.key(), seen});
}

void postpone_check(const CheckClaim &claim, int64_t until) {
	bool verify = claim.kind == CheckKind::Verify;
	spi_query("UPDATE tenant_backup.check_state SET "
	          "next_verify_at = CASE WHEN $2::boolean THEN to_timestamp($3::bigint) ELSE next_verify_at END, "
	          "next_drill_at = CASE WHEN $2::boolean THEN next_drill_at ELSE to_timestamp($3::bigint) END, "
	          "schema_seen = CASE WHEN $2::boolean THEN schema_seen ELSE greatest(schema_seen, $4::bigint) END "
	          "WHERE tenant = $1",
	          {claim.tenant, verify ? "t" : "f", std::to_string(until), std::to_string(claim.schema_generation)});
}

void forget_check_state(const std::string &tenant) {
	spi_query("DELETE FROM tenant_backup.check_state WHERE tenant = $1", {tenant});
}

} // namespace tb::pg
