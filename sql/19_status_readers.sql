-- tenant_backup regression tests, part 19 (issue 19.6): who reads backup_status and
-- backup_schedules(). A role holding backup.view on a tenant (the application's Settings -> Data &
-- Backup page) reads that tenant's rows only; a member of pg_monitor reads every tenant's health,
-- without last_error (which may quote a tenant's rows); a role with neither is refused with an
-- error that says what it lacks, and the attempt is audited.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.tenant_column = 'sr_tenant';
SET tenant_backup.unencrypted_backups = 'allow'; -- no key in this test, on purpose
SET client_min_messages = error;
SET log_min_error_statement = panic;
\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
CREATE SCHEMA sr;
CREATE TABLE sr.items (sr_tenant text NOT NULL, id int PRIMARY KEY, secret text);
CREATE INDEX ON sr.items (sr_tenant);
INSERT INTO sr.items VALUES ('sr_acme', 1, 'acme-secret'), ('sr_globex', 2, 'globex-secret');
DELETE FROM tenant_backup.schedules;
SELECT tenant_backup.backup_schedule_set('sr_acme', '0 3 * * *', 'Europe/Berlin', keep_daily => 7);
SELECT tenant_backup.backup_schedule_set('sr_globex', '0 4 * * *');
SELECT tenant_backup.backup_create('sr_acme') > 0 AS acme_backed_up;
SELECT tenant_backup.backup_create('sr_globex') > 0 AS globex_backed_up;
-- globex's scheduled backups failed twice, with an error that quotes one of its rows.
INSERT INTO tenant_backup.schedule_state (tenant, consecutive_failures, last_error, last_failure_at)
VALUES ('sr_globex', 2, 'duplicate key value (2, globex-secret)', now());

CREATE ROLE sr_app;       -- the application, for tenant sr_acme
CREATE ROLE sr_monitor;   -- the monitoring system
CREATE ROLE sr_nobody;    -- neither
CREATE ROLE sr_creator;   -- holds backup.create only
GRANT pg_monitor TO sr_monitor;
SELECT tenant_backup.backup_grant('sr_app', 'backup.view', 'sr_acme');
SELECT tenant_backup.backup_grant('sr_creator', 'backup.create', 'sr_acme');
SELECT coalesce(max(id), 0) AS audit_base FROM tenant_backup.backup_audit \gset

-- The application sees its tenant's row: what the Settings page shows.
SET ROLE sr_app;
SELECT tenant, scheduled, schedule, next_run IS NOT NULL AS has_next_run, last_backup_at IS NOT NULL AS has_last,
       retained_count, consecutive_failures, last_error
FROM tenant_backup.backup_status ORDER BY tenant;
SELECT format('next backup at %s, last backup %s',
              to_char(next_run AT TIME ZONE 'Europe/Berlin', 'HH24:MI'),
              CASE WHEN last_backup_at > now() - interval '1 hour' THEN 'within the hour' END) AS settings_page
FROM tenant_backup.backup_status WHERE tenant = 'sr_acme';
SELECT count(*) AS other_tenant_rows FROM tenant_backup.backup_status WHERE tenant = 'sr_globex';
SELECT tenant, cron, time_zone, keep_daily, next_run IS NOT NULL AS has_next_run FROM tenant_backup.backup_schedules() ORDER BY 1;
SELECT tenant, cron FROM tenant_backup.backup_schedules('sr_acme');
SELECT count(*) AS other_tenant_schedule FROM tenant_backup.backup_schedules('sr_globex');
-- (and still not the rows themselves: the tenant table is not granted to it)
SELECT count(*) FROM sr.items;
RESET ROLE;

-- pg_monitor sees every tenant's health, not last_error.
SET ROLE sr_monitor;
SELECT tenant, scheduled, next_run IS NOT NULL AS has_next_run, last_backup_at IS NOT NULL AS has_last,
       consecutive_failures, last_failure_at IS NOT NULL AS failed_before, last_error, retained_count,
       retained_bytes > 0 AS retained_bytes, overdue, running
FROM tenant_backup.backup_status WHERE tenant IN ('sr_acme', 'sr_globex') ORDER BY tenant;
SELECT tenant, cron FROM tenant_backup.backup_schedules() WHERE tenant IN ('sr_acme', 'sr_globex') ORDER BY 1;
SELECT tenant, cron FROM tenant_backup.backup_schedules('sr_globex');
RESET ROLE;

-- A backup admin sees last_error.
SELECT tenant, last_error FROM tenant_backup.backup_status WHERE tenant = 'sr_globex';

-- A role with neither is refused, even where no row would be shown; backup.create is not enough.
\set VERBOSITY default
SET ROLE sr_nobody;
SELECT count(*) FROM tenant_backup.backup_status;
SELECT count(*) FROM tenant_backup.backup_status WHERE tenant = 'no such tenant';
SELECT count(*) FROM tenant_backup.backup_schedules();
SELECT count(*) FROM tenant_backup.backup_schedules('sr_acme');
RESET ROLE;
SET ROLE sr_creator;
SELECT count(*) FROM tenant_backup.backup_status;
RESET ROLE;
\set VERBOSITY terse
SELECT pg_temp.audited($$SELECT count(*) = 5 FROM tenant_backup.backup_audit WHERE action = 'list_schedules'
    AND outcome = 'denied' AND current_user_name IN ('sr_nobody', 'sr_creator') AND id > $$ || :audit_base);

-- A grant is seen at once; a revoke likewise.
SELECT tenant_backup.backup_grant('sr_nobody', 'backup.view', 'sr_globex');
SET ROLE sr_nobody;
SELECT tenant, consecutive_failures, last_error FROM tenant_backup.backup_status ORDER BY tenant;
RESET ROLE;
SELECT tenant_backup.backup_revoke('sr_nobody', 'backup.view', 'sr_globex');
SET ROLE sr_nobody;
SELECT count(*) FROM tenant_backup.backup_status;
RESET ROLE;

-- A function of the reader's own in WHERE, cheaper than the view's filter, sees only the rows
-- the reader may read (backup_status is a security_barrier view): no WARNING names sr_globex.
CREATE FUNCTION pg_temp.sr_peek(tenant text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
    AS $$BEGIN RAISE WARNING 'saw %', tenant; RETURN true; END$$;
GRANT EXECUTE ON FUNCTION pg_temp.sr_peek(text) TO sr_app;
SET client_min_messages = warning;
SET ROLE sr_app;
SELECT tenant FROM tenant_backup.backup_status WHERE pg_temp.sr_peek(tenant) ORDER BY tenant;
RESET ROLE;
SET client_min_messages = error;
DROP FUNCTION pg_temp.sr_peek(text);

DELETE FROM tenant_backup.schedules WHERE tenant IN ('sr_acme', 'sr_globex');
DELETE FROM tenant_backup.schedule_state WHERE tenant IN ('sr_acme', 'sr_globex');
DELETE FROM tenant_backup.permissions WHERE role_id IN ('sr_app'::regrole, 'sr_creator'::regrole, 'sr_nobody'::regrole);
DROP ROLE sr_app, sr_monitor, sr_nobody, sr_creator;
