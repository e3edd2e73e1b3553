-- tenant_backup regression tests, part 23: reads at scale (issue 23.4). The statements that run
-- once per tenant or per scheduler pass reach one tenant's rows (or the few rows they need) by
-- index, never by reading a whole catalog table: backup_status WHERE tenant = ... pushes the
-- condition into every table it reads, and the scheduler's and retention's statements (run as
-- generic plans, as SPI runs them) use the indexes made for them.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.tenant_column = 'pl_tenant';
SET client_min_messages = error;
CREATE SCHEMA pl;
CREATE TABLE pl.items (pl_tenant int NOT NULL, id int, PRIMARY KEY (pl_tenant, id));
INSERT INTO pl.items SELECT t, 1 FROM generate_series(230001, 232000) t;
-- 2,000 tenants known to the scheduler, 14 completed backups each, a few failed and running.
INSERT INTO tenant_backup.schedule_state (tenant, next_run)
SELECT t::text, now() + make_interval(secs => t) FROM generate_series(230001, 232000) t;
INSERT INTO tenant_backup.backups (tenant, kind, status, sha256, size_bytes, object_name, created_at)
SELECT t::text, 'auto', 'completed', repeat('a', 64), 100, 'pl-' || t || '-' || g, now() - make_interval(days => g)
FROM generate_series(230001, 232000) t, generate_series(1, 14) g;
INSERT INTO tenant_backup.backups (tenant, kind, status)
SELECT t::text, 'auto', 'failed' FROM generate_series(230001, 230100) t;
INSERT INTO tenant_backup.backup_copies (backup_id, repository, object_name, size_bytes, sha256, stored_at, state)
SELECT id, 'local', object_name, 100, sha256, now(), 'stored' FROM tenant_backup.backups
WHERE tenant ~ '^23[0-9]{4}$' AND status = 'completed';
INSERT INTO tenant_backup.backup_audit (at, session_user_name, current_user_name, tenant, action, outcome)
SELECT now() - make_interval(days => g % 500), 'pl', 'pl', '230001', 'pl_test', 'ok' FROM generate_series(1, 5000) g;
ANALYZE tenant_backup.backups, tenant_backup.backup_copies, tenant_backup.schedule_state, tenant_backup.schedules, tenant_backup.backup_audit,
    pl.items;

-- The scans of a statement's plan, sorted (join order aside): the indexes used, sequential and
-- function scans, index conditions.
CREATE FUNCTION pg_temp.scans(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    found text[] := '{}';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (costs off) ' || query LOOP
        -- an index however it is scanned (plain, index-only or bitmap: that depends on the rows)
        line := btrim(regexp_replace(line, '^\s*->\s*', ''));
        IF line ~ '^(Index|Index Only) Scan using \S+ on' THEN
            found := found || ('index ' || substring(line from 'using (\S+)'));
        ELSIF line ~ '^Bitmap Index Scan on' THEN
            found := found || ('index ' || substring(line from 'Scan on (\S+)'));
        ELSIF line ~ '^(Seq Scan|Function Scan)|^(Index Cond|One-Time Filter)' THEN
            found := found || line;
        END IF;
    END LOOP;
    RETURN QUERY SELECT f FROM unnest(found) f ORDER BY f COLLATE "C";
END $$;

-- backup_status for one tenant: index scans of schedule_state and backups only (the schedules
-- table is tiny here; discovery runs only when no scheduler serves the database).
SELECT * FROM pg_temp.scans($$SELECT * FROM tenant_backup.backup_status WHERE tenant = '231000'$$);
SELECT tenant, retained_count, last_backup_kind FROM tenant_backup.backup_status WHERE tenant = '231000';

-- backup_list(tenant)'s query.
SELECT * FROM pg_temp.scans($$SELECT b.* FROM tenant_backup.backups b
    WHERE b.tenant = ANY (ARRAY['231000', tenant_backup._stored_tenant('231000')]) ORDER BY b.created_at DESC, b.id DESC$$);
SELECT count(*) FROM tenant_backup.backup_list('231000');

-- A batch of the scheduler's upkeep, as SPI plans it (once, with its values): the next idle
-- tenants after the last batch's, in the primary key's order (no sort); and a step of discovery:
-- the next tenants of a table after the last step's, by a loose scan of its tenant index.
SELECT * FROM pg_temp.scans($$SELECT tenant FROM tenant_backup.schedule_state WHERE running_backup_id IS NULL
    AND ('230500'::text IS NULL OR tenant > '230500') ORDER BY tenant LIMIT 5000$$);
SELECT * FROM pg_temp.scans($$SELECT v::text FROM (WITH RECURSIVE skip(v, n) AS ((SELECT pl_tenant, 1 FROM pl.items
    WHERE pl_tenant > CAST('231000' AS integer) ORDER BY 1 LIMIT 1) UNION ALL SELECT (SELECT pl_tenant FROM pl.items
    WHERE pl_tenant > skip.v ORDER BY 1 LIMIT 1), skip.n + 1 FROM skip WHERE skip.v IS NOT NULL AND skip.n < 10000)
    SELECT v, n FROM skip WHERE v IS NOT NULL) AS loose ORDER BY n$$);

-- The scheduler's statements of every pass, and a job's retention, as generic plans.
SET plan_cache_mode = force_generic_plan;
PREPARE due(bigint, int) AS SELECT count(*) FROM (SELECT FROM tenant_backup.schedule_state
    WHERE running_backup_id IS NULL AND next_run <= to_timestamp($1) ORDER BY next_run LIMIT $2) d;
SELECT * FROM pg_temp.scans('EXECUTE due(0, 2)');
PREPARE next_due(bigint) AS SELECT tenant FROM tenant_backup.schedule_state
    WHERE running_backup_id IS NULL AND next_run <= to_timestamp($1) ORDER BY next_run, tenant LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM pg_temp.scans('EXECUTE next_due(0)');
PREPARE running AS SELECT tenant FROM tenant_backup.schedule_state WHERE running_backup_id IS NOT NULL;
SELECT * FROM pg_temp.scans('EXECUTE running');
PREPARE unclaimed AS SELECT b.id FROM tenant_backup.backups b WHERE b.status = 'running' AND b.kind = 'auto'
    AND NOT EXISTS (SELECT 1 FROM tenant_backup.schedule_state s WHERE s.running_backup_id = b.id);
SELECT * FROM pg_temp.scans('EXECUTE unclaimed');
PREPARE retained(text) AS SELECT id FROM tenant_backup.backups WHERE tenant = $1 AND kind = 'auto' AND status = 'completed';
SELECT * FROM pg_temp.scans($$EXECUTE retained('231000')$$);
PREPARE old_failures(text, bigint) AS DELETE FROM tenant_backup.backups WHERE tenant = $1 AND kind = 'auto'
    AND status = 'failed' AND created_at < to_timestamp($2);
SELECT * FROM pg_temp.scans($$EXECUTE old_failures('230050', 0)$$);
PREPARE old_audit(int) AS SELECT id FROM tenant_backup.backup_audit WHERE at < now() - make_interval(days => $1)
    ORDER BY at LIMIT 1000;
SELECT * FROM pg_temp.scans('EXECUTE old_audit(400)');
RESET plan_cache_mode;

DELETE FROM tenant_backup.backups WHERE tenant ~ '^23[0-9]{4}$';
DELETE FROM tenant_backup.schedule_state WHERE tenant ~ '^23[0-9]{4}$';
DELETE FROM tenant_backup.backup_audit WHERE action = 'pl_test'; -- superusers may (the trigger let no row go)
SELECT count(*) AS audit_rows_left FROM tenant_backup.backup_audit WHERE action = 'pl_test';
DROP SCHEMA pl CASCADE;
