-- tenant_backup regression tests, part 14: schedules. Validation, the default and per-tenant
-- schedules, next runs in time zones with a spread window, backup_status (overdue, retained
-- backups) and who may do what. No scheduler runs here (no shared_preload_libraries): TAP test
-- 009 runs schedules for real.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 14000) AS id_base \gset
SET tenant_backup.tenant_column = 'sc_tenant';
SET client_min_messages = error;
SET log_min_error_statement = panic;
\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
CREATE SCHEMA sc;
CREATE TABLE sc.items (sc_tenant int NOT NULL, id int PRIMARY KEY, note text);
CREATE INDEX ON sc.items (sc_tenant);
INSERT INTO sc.items VALUES (1401, 1, 'a'), (1402, 2, 'b'), (1403, 3, 'c');

-- The tenants are the distinct values of the tenant tables (here only sc.items has sc_tenant).
SELECT tenant, schedule, next_run FROM tenant_backup.backup_schedules() ORDER BY tenant;

-- Bad schedules are refused with a clear error, and change nothing.
SELECT tenant_backup.backup_schedule_set(cron => '61 2 * * *');
SELECT tenant_backup.backup_schedule_set(cron => '0 2 * *');
SELECT tenant_backup.backup_schedule_set(cron => '0 2 31 2 *');
SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * someday');
SELECT tenant_backup.backup_schedule_set(time_zone => 'Mars/Olympus_Mons');
SELECT tenant_backup.backup_schedule_set(time_zone => '');
SELECT tenant_backup.backup_schedule_set(keep_last => -1);
SELECT tenant_backup.backup_schedule_set(window_minutes => 1441);
SELECT tenant_backup.backup_schedule_set(tenant => '');
SELECT count(*) AS schedules FROM tenant_backup.schedules;

-- "Every night at 02:00 EAT", spread over an hour; tenant 1402 weekly on Sunday 01:30 IST with
-- grandfather-father-son retention; tenant 1403 not scheduled. Tenant values are stored as the
-- tenant column prints them (' 1402' is 1402).
SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', time_zone => 'Africa/Nairobi', window_minutes => 60);
SELECT tenant_backup.backup_schedule_set(' 1402', '30 1 * * sun', 'Asia/Kolkata', keep_last => 0, keep_daily => 7,
                                         keep_weekly => 4, keep_monthly => 12);
SELECT tenant_backup.backup_schedule_set('1403', enabled => false);
SELECT tenant, cron, time_zone, keep_last, keep_days, keep_daily, keep_weekly, keep_monthly, window_minutes, enabled
FROM tenant_backup.schedules ORDER BY tenant NULLS FIRST;
SELECT tenant, schedule, cron, time_zone, keep_last, window_minutes, enabled,
       next_run > now() AS in_future,
       next_run <= now() + interval '7 days' AS within_a_week,
       (next_run AT TIME ZONE time_zone)::time AS local_time,
       CASE WHEN tenant = '1402' THEN to_char(next_run AT TIME ZONE time_zone, 'Dy') END AS weekday
FROM tenant_backup.backup_schedules() ORDER BY tenant;
-- The window puts 1401 at a fixed minute of 02:00-03:00 EAT; setting the same schedule again
-- gives the same minute (deterministic, per tenant).
SELECT (next_run AT TIME ZONE 'Africa/Nairobi')::time BETWEEN '02:00' AND '03:00' AS in_window,
       next_run AS first_answer FROM tenant_backup.backup_schedules() WHERE tenant = '1401' \gset
SELECT :'in_window' AS in_window;
SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', time_zone => 'Africa/Nairobi', window_minutes => 60);
SELECT next_run = :'first_answer' AS same_minute FROM tenant_backup.backup_schedules() WHERE tenant = '1401';

-- backup_status: nothing is backed up yet, so the scheduled tenants are overdue once a
-- scheduled time has passed (a yearly schedule's Jan 1st always has); the unscheduled one is not.
SELECT tenant_backup.backup_schedule_set('1401', '0 0 1 1 *');
SELECT tenant, schedule, scheduled, last_backup_id, overdue, running, consecutive_failures, retained_count
FROM tenant_backup.backup_status WHERE tenant LIKE '14%' ORDER BY tenant;
SELECT tenant_backup.backup_create('1401', 'by hand') - :id_base AS backup;
SELECT tenant_backup.backup_create('1403') - :id_base AS backup;
SELECT tenant, last_backup_id - :id_base AS last_backup, last_backup_kind, last_backup_at IS NOT NULL AS has_time,
       last_backup_bytes > 0 AS has_size, overdue, retained_count, retained_bytes > 0 AS has_bytes
FROM tenant_backup.backup_status WHERE tenant LIKE '14%' ORDER BY tenant;

-- Removing a tenant's schedule falls back to the default; removing twice finds nothing.
SELECT tenant_backup.backup_schedule_remove('1402');
SELECT tenant_backup.backup_schedule_remove('1402');
SELECT tenant, schedule, cron FROM tenant_backup.backup_schedules() WHERE tenant = '1402';

-- A schedule's own repositories (superuser-only) stay when a change leaves them out, as a
-- backup admin changing the cron would; '' resets them to tenant_backup.repositories (NULL).
SELECT tenant_backup.backup_schedule_set('1401', '0 4 * * *', repositories => 'local');
SELECT tenant_backup.backup_schedule_set('1401', '0 5 * * *');
SELECT tenant, cron, repositories FROM tenant_backup.schedules WHERE tenant = '1401';
SELECT tenant_backup.backup_schedule_set('1401', '0 0 1 1 *', repositories => '');
SELECT tenant, cron, repositories FROM tenant_backup.schedules WHERE tenant = '1401';

-- A tenant registry, when set, lists the tenants instead (it may hold tenants without rows).
CREATE TABLE sc.registry (sc_tenant int PRIMARY KEY);
INSERT INTO sc.registry VALUES (1401), (1499);
SET tenant_backup.tenant_registry = 'sc.registry';
SELECT tenant, schedule FROM tenant_backup.backup_schedules() ORDER BY tenant;
-- Registry values are taken in the form backups record tenants: in a text registry, '01', '1'
-- and ' 1402' are tenants 1 and 1402 of the int tenant columns; a value that is no int stays.
CREATE TABLE sc.text_registry (sc_tenant text);
SELECT tenant_backup.backup_exclude_table('sc.text_registry'); -- a list, not a tenant table
INSERT INTO sc.text_registry VALUES ('01'), ('1'), (' 1402'), ('x');
SET tenant_backup.tenant_registry = 'sc.text_registry';
SELECT tenant, schedule FROM tenant_backup.backup_schedules() ORDER BY tenant;
SET tenant_backup.tenant_registry = 'sc.no_such_table';
SELECT count(*) FROM tenant_backup.backup_schedules();
RESET tenant_backup.tenant_registry;

-- Only backup admins manage and read schedules; the attempts are audited.
CREATE ROLE sc_user;
GRANT USAGE ON SCHEMA sc TO sc_user;
SELECT tenant_backup.backup_grant('sc_user', 'backup.create');
SET ROLE sc_user;
SELECT tenant_backup.backup_schedule_set(cron => '* * * * *');
SELECT tenant_backup.backup_schedule_remove();
SELECT count(*) FROM tenant_backup.backup_schedules();
SELECT count(*) FROM tenant_backup.backup_status;
-- backup_progress is open to every role (it filters by backup.view itself); nothing runs here.
SELECT count(*) FROM tenant_backup.backup_progress;
RESET ROLE;
SELECT pg_temp.audited($$SELECT count(*) = 2 FROM tenant_backup.backup_audit WHERE current_user_name = 'sc_user' AND action = 'list_schedules'$$);
SELECT current_user_name = 'sc_user' AS by_user, action, tenant, outcome, error
FROM tenant_backup.backup_audit WHERE action IN ('schedule', 'list_schedules') ORDER BY id;

-- Disabling the default keeps its row; removing it leaves only per-tenant schedules.
SELECT tenant_backup.backup_schedule_set(enabled => false);
SELECT tenant, schedule, enabled, next_run IS NOT NULL AS has_next_run
FROM tenant_backup.backup_schedules() ORDER BY tenant;
SELECT tenant_backup.backup_schedule_remove();
SELECT tenant, schedule FROM tenant_backup.backup_schedules() ORDER BY tenant;

-- A stored row that no longer parses (stored before a parser got stricter, or written by hand)
-- is skipped with a WARNING: its tenant has no schedule in force (not the default), the others
-- keep theirs.
DELETE FROM tenant_backup.schedules;
SELECT tenant_backup.backup_schedule_set(cron => '0 3 * * *');
INSERT INTO tenant_backup.schedules (tenant, cron, time_zone, keep_last)
VALUES ('1401', '*/5x * * * *', 'UTC', 1), ('1402', '0 1 * * *', 'Mars/Olympus_Mons', 1);
SET client_min_messages = warning;
SELECT tenant, schedule, cron, next_run IS NOT NULL AS has_next_run
FROM tenant_backup.backup_schedules() ORDER BY tenant;
SET client_min_messages = error;

-- Next runs across daylight-saving changes through PostgreSQL's own time zone code (pg_tzset),
-- with the scheduler's test clock set in this session. New York moves its clocks on 2026-03-08
-- (02:00 EST -> 03:00 EDT) and 2026-11-01 (02:00 EDT -> 01:00 EST), Berlin on 2026-03-29
-- (02:00 CET -> 03:00 CEST) and 2026-10-25 (03:00 CEST -> 02:00 CET). A skipped 02:30 runs when
-- the clocks jump; a repeated 01:30 or 02:30 runs at its first occurrence, once.
DELETE FROM tenant_backup.schedules;
SELECT tenant_backup.backup_schedule_set('1401', '30 2 * * *', 'America/New_York');
SELECT tenant_backup.backup_schedule_set('1402', '30 2 * * *', 'Europe/Berlin');
SELECT tenant_backup.backup_schedule_set('1403', '30 1 * * *', 'America/New_York');
-- (Each clock is minutes away from a run: the offset is whole seconds, set a moment before use.)
CREATE FUNCTION pg_temp.clock_at(t timestamptz) RETURNS text LANGUAGE sql AS $$
    SELECT set_config('tenant_backup.scheduler_clock_offset',
                      (extract(epoch FROM t) - extract(epoch FROM now()))::bigint::text, false) $$;
CREATE FUNCTION pg_temp.runs() RETURNS TABLE (tenant text, time_zone text, next_run_utc text, local text)
LANGUAGE sql AS $$
    SELECT tenant, time_zone, to_char(next_run AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
           to_char(next_run AT TIME ZONE time_zone, 'MM-DD HH24:MI')
    FROM tenant_backup.backup_schedules() WHERE tenant IN ('1401', '1402', '1403') ORDER BY tenant $$;
SELECT pg_temp.clock_at('2026-03-07 12:00+00') IS NOT NULL AS clock_set;
SELECT * FROM pg_temp.runs();
SELECT pg_temp.clock_at('2026-03-08 08:10+00') IS NOT NULL AS clock_set;
SELECT tenant, to_char(last_due_run AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS last_due_run_utc
FROM tenant_backup.backup_schedules() WHERE tenant IN ('1401', '1402', '1403') ORDER BY tenant;
SELECT pg_temp.clock_at('2026-03-28 12:00+00') IS NOT NULL AS clock_set;
SELECT * FROM pg_temp.runs();
SELECT pg_temp.clock_at('2026-10-24 12:00+00') IS NOT NULL AS clock_set;
SELECT * FROM pg_temp.runs();
SELECT pg_temp.clock_at('2026-10-31 12:00+00') IS NOT NULL AS clock_set;
SELECT * FROM pg_temp.runs();
-- During New York's repeated hour, after the first 01:30 ran: the next is the following night.
SELECT pg_temp.clock_at('2026-11-01 06:10+00') IS NOT NULL AS clock_set;
SELECT * FROM pg_temp.runs() WHERE tenant = '1403';
RESET tenant_backup.scheduler_clock_offset;

-- Leave nothing scheduled for the tests that follow.
DELETE FROM tenant_backup.schedules;
