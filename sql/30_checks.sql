-- tenant_backup regression tests, part 30: the scheduler's verifications and restore drills
-- (issue 20). Schema changes are recorded by an event trigger, one row per table (never one per
-- tenant), with a new generation per change; and the statements of the scheduler's upkeep and of
-- its check workers reach check_state and backups by index (generic plans, as SPI runs them), so
-- that at 100,000 tenants each pass and each check costs a few index probes.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET client_min_messages = error;
CREATE SCHEMA ck;
CREATE TABLE ck.a (tenant_id int, id int);
CREATE TABLE ck.b (tenant_id int, id int);
CREATE FUNCTION pg_temp.changes() RETURNS TABLE (tbl text, generation bigint) LANGUAGE sql AS $$
    SELECT relid::regclass::text, generation FROM tenant_backup.schema_changes
    WHERE relid IN ('ck.a'::regclass, 'ck.b'::regclass) ORDER BY 1 $$;

-- CREATE TABLE is no change to what a backup holds.
SELECT count(*) FROM pg_temp.changes();

-- ALTER TABLE: one row for the table, a newer generation at each change.
ALTER TABLE ck.a ADD COLUMN v int;
CREATE TEMP TABLE ck_before AS SELECT * FROM pg_temp.changes();
SELECT tbl FROM ck_before;
ALTER TABLE ck.a ALTER COLUMN v TYPE bigint;
SELECT c.tbl, c.generation > b.generation AS newer FROM pg_temp.changes() c JOIN ck_before b USING (tbl);

-- Several changes of two tables in one transaction: one row each.
BEGIN;
ALTER TABLE ck.a ADD COLUMN w int;
ALTER TABLE ck.b ADD COLUMN w int;
ALTER TABLE ck.a DROP COLUMN w;
COMMIT;
SELECT tbl FROM pg_temp.changes();

-- Rolled back: as if it never happened.
TRUNCATE ck_before;
INSERT INTO ck_before SELECT * FROM pg_temp.changes();
BEGIN;
ALTER TABLE ck.b ADD COLUMN x int;
ROLLBACK;
SELECT c.tbl, c.generation = b.generation AS unchanged FROM pg_temp.changes() c JOIN ck_before b USING (tbl);

-- Temporary tables are nobody's backup.
CREATE TEMP TABLE ck_scratch (a int);
ALTER TABLE ck_scratch ADD COLUMN b int;
SELECT count(*) FROM tenant_backup.schema_changes WHERE relid = 'ck_scratch'::regclass;

-- A role that may not write the extension's tables records its changes all the same.
CREATE ROLE ck_owner;
GRANT USAGE ON SCHEMA ck TO ck_owner;
CREATE TABLE ck.c (id int);
ALTER TABLE ck.c OWNER TO ck_owner;
DELETE FROM tenant_backup.schema_changes WHERE relid = 'ck.c'::regclass;
SET ROLE ck_owner;
ALTER TABLE ck.c ADD COLUMN d int;
SELECT count(*) FROM tenant_backup.schema_changes; -- it may not read them
RESET ROLE;
SELECT count(*) FROM tenant_backup.schema_changes WHERE relid = 'ck.c'::regclass;

-- DROP TABLE: recorded by its OID, with a newer generation.
CREATE TEMP TABLE ck_dropped AS SELECT relid, generation FROM tenant_backup.schema_changes WHERE relid = 'ck.c'::regclass;
DROP TABLE ck.c;
SELECT s.generation > d.generation AS newer FROM tenant_backup.schema_changes s JOIN ck_dropped d USING (relid);

-- The statements' plans: 3,000 tenants with times, 14 completed backups each.
INSERT INTO tenant_backup.check_state (tenant, cadence_key, next_verify_at, next_drill_at, schema_seen)
SELECT 'ck' || t, '604800|604800', now() + make_interval(secs => t), now() + make_interval(secs => 2 * t), t % 7
FROM generate_series(1, 3000) t;
INSERT INTO tenant_backup.backups (tenant, kind, status, sha256, size_bytes, object_name, created_at)
SELECT 'ck' || t, 'auto', 'completed', repeat('a', 64), 100, 'ck-' || t || '-' || g, now() - make_interval(days => g)
FROM generate_series(1, 3000) t, generate_series(1, 14) g;
ANALYZE tenant_backup.check_state, tenant_backup.backups;

-- The scans of a statement's plan on check_state and backups, sorted: the indexes used, and any
-- sequential scan.
CREATE FUNCTION pg_temp.scans(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    found text[] := '{}';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (costs off) ' || query LOOP
        line := btrim(regexp_replace(line, '^\s*->\s*', ''));
        IF line ~ '^(Index|Index Only) Scan( Backward)? using \S+ on (check_state|backups)' THEN
            found := found || ('index ' || substring(line from 'using (\S+)'));
        ELSIF line ~ '^Bitmap Index Scan on (check_state|backups)' THEN
            found := found || ('index ' || substring(line from 'Scan on (\S+)'));
        ELSIF line ~ '^Seq Scan on (check_state|backups)' THEN
            found := found || line;
        END IF;
    END LOOP;
    RETURN QUERY SELECT f FROM unnest(found) f ORDER BY f COLLATE "C";
END $$;

SET plan_cache_mode = force_generic_plan;
-- A check worker's claims: the first due tenant of each kind, its row locked.
PREPARE claim_verify(bigint) AS SELECT tenant, schema_seen FROM tenant_backup.check_state
    WHERE next_verify_at <= to_timestamp($1) ORDER BY next_verify_at LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM pg_temp.scans('EXECUTE claim_verify(0)');
PREPARE claim_drill(bigint) AS SELECT tenant, schema_seen FROM tenant_backup.check_state
    WHERE next_drill_at <= to_timestamp($1) ORDER BY next_drill_at LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM pg_temp.scans('EXECUTE claim_drill(0)');
PREPARE claim_schema(bigint) AS SELECT tenant, schema_seen FROM tenant_backup.check_state
    WHERE schema_seen < $1 ORDER BY schema_seen LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM pg_temp.scans('EXECUTE claim_schema(1)');
-- Its tenant's newest completed backup.
PREPARE newest(text) AS SELECT id FROM tenant_backup.backups WHERE tenant = $1 AND status = 'completed'
    ORDER BY created_at DESC, id DESC LIMIT 1;
SELECT * FROM pg_temp.scans($$EXECUTE newest('ck100')$$);
-- The scheduler at every pass: how many are due (at most the free slots), and when the next is.
PREPARE due(bigint, int, bigint) AS SELECT (SELECT count(*) FROM (SELECT FROM tenant_backup.check_state
      WHERE next_verify_at <= to_timestamp($1) ORDER BY next_verify_at LIMIT $2) v)
    + (SELECT count(*) FROM (SELECT FROM tenant_backup.check_state
      WHERE next_drill_at <= to_timestamp($1) ORDER BY next_drill_at LIMIT $2) d)
    + (SELECT count(*) FROM (SELECT FROM tenant_backup.check_state
      WHERE schema_seen < $3 ORDER BY schema_seen LIMIT $2) s);
SELECT * FROM pg_temp.scans('EXECUTE due(0, 1, 1)');
PREPARE earliest AS SELECT extract(epoch FROM least((SELECT min(next_verify_at) FROM tenant_backup.check_state),
    (SELECT min(next_drill_at) FROM tenant_backup.check_state)))::bigint;
SELECT * FROM pg_temp.scans('EXECUTE earliest');
-- The upkeep's batches: the next tenants with a completed backup after the last batch's, by a
-- loose scan (one probe per tenant, however many backups each has); and the next state rows in
-- the primary key's order, for a recomputation.
PREPARE track(text, int) AS WITH RECURSIVE skip(v, n) AS (
    (SELECT b.tenant, 1 FROM tenant_backup.backups b WHERE b.status = 'completed'
     AND ($1::text IS NULL OR b.tenant > $1) ORDER BY b.tenant LIMIT 1)
    UNION ALL SELECT (SELECT b.tenant FROM tenant_backup.backups b WHERE b.status = 'completed'
     AND b.tenant > skip.v ORDER BY b.tenant LIMIT 1), skip.n + 1 FROM skip
    WHERE skip.v IS NOT NULL AND skip.n < $2)
    SELECT v FROM skip WHERE v IS NOT NULL ORDER BY n;
SELECT * FROM pg_temp.scans($$EXECUTE track('ck1000', 5000)$$);
EXECUTE track('ck2997', 3);
SET plan_cache_mode = force_generic_plan;
PREPARE recompute(text, int, text) AS SELECT tenant, cadence_key <> $3 FROM tenant_backup.check_state
    WHERE ($1::text IS NULL OR tenant > $1) ORDER BY tenant LIMIT $2;
SELECT * FROM pg_temp.scans($$EXECUTE recompute('ck1000', 5000, '0|0')$$);
RESET plan_cache_mode;

DELETE FROM tenant_backup.backups WHERE tenant ~ '^ck[0-9]+$';
DELETE FROM tenant_backup.check_state WHERE tenant ~ '^ck[0-9]+$';
DROP SCHEMA ck CASCADE;
DROP ROLE ck_owner;
