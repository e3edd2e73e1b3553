-- tenant_backup regression tests, part 19 (issue 19.1, 19.3, 19.5): backup_schedule_set keeps
-- the values of the arguments left out, and a new schedule takes the documented defaults;
-- numeric UTC offsets are refused, never read with POSIX's inverted sign; a tenant with no rows
-- anywhere is said to have none, by backup_schedule_set and by backup_create.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 19100) AS id_base \gset
SET tenant_backup.tenant_column = 'sa_tenant';
SET tenant_backup.unencrypted_backups = 'allow'; -- no key in this test, on purpose
SET client_min_messages = notice;
SET log_min_error_statement = panic;
CREATE SCHEMA sa;
CREATE TABLE sa.items (sa_tenant text NOT NULL, id int PRIMARY KEY);
CREATE INDEX ON sa.items (sa_tenant);
INSERT INTO sa.items VALUES ('acme', 1), ('globex', 2);
DELETE FROM tenant_backup.schedules;
SELECT coalesce(max(id), 0) AS audit_base FROM tenant_backup.backup_audit \gset

CREATE FUNCTION pg_temp.schedule(t text) RETURNS TABLE (cron text, time_zone text, keep_last int, keep_days int,
    keep_daily int, keep_weekly int, keep_monthly int, window_minutes int, enabled boolean, repositories text)
LANGUAGE sql AS $$
    SELECT cron, time_zone, keep_last, keep_days, keep_daily, keep_weekly, keep_monthly, window_minutes, enabled,
           repositories
    FROM tenant_backup.schedules WHERE tenant IS NOT DISTINCT FROM t $$;

-- A new schedule takes the documented defaults for what it leaves out.
SELECT tenant_backup.backup_schedule_set('acme', time_zone => 'Asia/Kolkata');
SELECT * FROM pg_temp.schedule('acme');
-- acme on grandfather-father-son retention, in a 30-minute window, stored in 'local' ...
SELECT tenant_backup.backup_schedule_set('acme', '30 1 * * *', keep_last => 0, keep_daily => 7, keep_weekly => 4,
                                         keep_monthly => 12, window_minutes => 30, repositories => 'local');
SELECT * FROM pg_temp.schedule('acme');
-- ... "move acme to 02:00" changes the cron only: zone, retention, window and repositories stay.
SELECT tenant_backup.backup_schedule_set('acme', '0 2 * * *');
SELECT * FROM pg_temp.schedule('acme');
-- NULL is "left out" too; each argument given changes only its own column.
SELECT tenant_backup.backup_schedule_set('acme', NULL, NULL, NULL, NULL, false);
SELECT * FROM pg_temp.schedule('acme');
SELECT tenant_backup.backup_schedule_set('acme', enabled => true, keep_days => 3);
SELECT * FROM pg_temp.schedule('acme');
SELECT tenant_backup.backup_schedule_set('acme', repositories => '');
SELECT * FROM pg_temp.schedule('acme');
-- The default schedule (tenant NULL) follows the same rule.
SELECT tenant_backup.backup_schedule_set(keep_last => 30);
SELECT tenant_backup.backup_schedule_set(time_zone => 'Africa/Nairobi');
SELECT * FROM pg_temp.schedule(NULL);
-- Removed and set again, a schedule starts from the defaults.
SELECT tenant_backup.backup_schedule_remove('acme');
SELECT tenant_backup.backup_schedule_set('acme', window_minutes => 10);
SELECT * FROM pg_temp.schedule('acme');
-- Arguments given are still checked, whatever is kept.
SELECT tenant_backup.backup_schedule_set('acme', cron => '');
SELECT tenant_backup.backup_schedule_set('acme', keep_weekly => -1);

-- Numeric UTC offsets: PostgreSQL's time zone library reads '+03:00' as a POSIX TZ string, 3
-- hours *behind* UTC. Refused with the IANA name (or the Etc zone) to use instead.
SELECT tenant_backup.backup_schedule_set('acme', time_zone => '+03:00');
SELECT tenant_backup.backup_schedule_set('acme', time_zone => '-05:30');
SELECT tenant_backup.backup_schedule_set('acme', time_zone => 'UTC+3');
SELECT tenant_backup.backup_schedule_set('acme', time_zone => '<+03>-3');
SELECT tenant_backup.backup_schedule_set('acme', time_zone => 'Mars/Crater7');
-- Zone names of the time zone database with digits are IANA names: accepted, and the Etc/GMT
-- ones, whose sign reads the other way round, are said to be what they are.
SELECT tenant_backup.backup_schedule_set('acme', time_zone => 'Etc/GMT-3');
SELECT tenant_backup.backup_schedule_set('acme', time_zone => 'etc/gmt+11');
SELECT tenant_backup.backup_schedule_set('acme', time_zone => 'EST5EDT');
SELECT time_zone FROM pg_temp.schedule('acme');
-- A numeric offset stored before 0.2.0 is not carried on: the schedule is not used (with a
-- WARNING), and a change that keeps the zone is refused until the zone is set.
UPDATE tenant_backup.schedules SET time_zone = '+03:00' WHERE tenant = 'acme';
SELECT tenant, schedule, next_run IS NOT NULL AS has_next_run FROM tenant_backup.backup_schedules() ORDER BY tenant;
SELECT tenant_backup.backup_schedule_set('acme', cron => '0 4 * * *');
SELECT tenant_backup.backup_schedule_set('acme', cron => '0 4 * * *', time_zone => 'Africa/Nairobi');
SELECT cron, time_zone FROM pg_temp.schedule('acme');

-- A typo'd tenant: 'Acme' has no rows anywhere. Its schedule is set with a NOTICE, and its
-- backup completes empty with one (its catalog row says 0 rows).
SELECT tenant_backup.backup_schedule_set('Acme', '0 3 * * *');
SELECT tenant_backup.backup_create('Acme') - :id_base AS empty_backup;
SELECT status, row_count, tenant FROM tenant_backup.backups WHERE id = :id_base + 1;
-- A tenant with rows says nothing; nor does an integer tenant column that does not take the value.
CREATE TABLE sa.counters (sa_tenant int NOT NULL, n int);
CREATE INDEX ON sa.counters (sa_tenant);
INSERT INTO sa.counters VALUES (7, 1);
SELECT tenant_backup.backup_schedule_set('globex', '0 3 * * *');
SELECT tenant_backup.backup_schedule_set('7', '0 3 * * *');
SELECT tenant_backup.backup_create('7') - :id_base AS backup_of_7;

-- Where a root table of tenants exists (the table the tenant columns reference, issue 17), a
-- tenant without its row there is refused, by backup_create and backup_schedule_set alike.
DROP TABLE sa.counters;
CREATE TABLE sa.tenants (id text PRIMARY KEY);
INSERT INTO sa.tenants VALUES ('acme'), ('globex');
ALTER TABLE sa.items ADD FOREIGN KEY (sa_tenant) REFERENCES sa.tenants (id);
SELECT table_name, rows_found_by FROM tenant_backup.backup_tables() WHERE table_name::text LIKE 'sa.%' ORDER BY 1;
SELECT tenant_backup.backup_create('Acme');
SELECT tenant_backup.backup_schedule_set('Acme', '0 5 * * *');
SELECT cron FROM pg_temp.schedule('Acme');
SELECT tenant_backup.backup_schedule_set('acme', '0 5 * * *');
-- A tenant with its root row but no other rows yet is a tenant: backed up (empty of items).
INSERT INTO sa.tenants VALUES ('initech');
SELECT tenant_backup.backup_create('initech') > :id_base AS backed_up;

-- Every change and refusal above is in the audit trail.
SELECT action, tenant, outcome, error FROM tenant_backup.backup_audit
WHERE id > :audit_base AND (outcome <> 'ok' OR tenant IN ('Acme', '7', 'initech')) ORDER BY id;

DELETE FROM tenant_backup.schedules;
RESET tenant_backup.unencrypted_backups;
