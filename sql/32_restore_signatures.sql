-- tenant_backup regression tests, review of issues 19, 20 and 21: which backup_restore each call
-- reaches, positional or named (0.1.0's one-argument form, issue 20's backup_restore(backup_id,
-- strict), issue 21's options form), and what the positional calls do; the session settings an
-- asynchronous job carries (docs/REFERENCE.md, "What the job takes from the calling session").
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 32000) AS id_base \gset
SET tenant_backup.tenant_column = 'rs_tenant';
SET tenant_backup.unencrypted_backups = 'allow';
CREATE SCHEMA rs;
CREATE TABLE rs.items (rs_tenant int NOT NULL, id int PRIMARY KEY, note text);
CREATE TABLE rs.gone (rs_tenant int NOT NULL, id int PRIMARY KEY);
INSERT INTO rs.items VALUES (3201, 1, 'a'), (3201, 2, 'b'), (3202, 3, 'c');
INSERT INTO rs.gone VALUES (3201, 1);
SELECT tenant_backup.backup_create('3201') AS b \gset
DROP TABLE rs.gone;
UPDATE rs.items SET note = 'changed' WHERE rs_tenant = 3201;

-- The function each call reaches, as PostgreSQL resolves it (nothing runs).
\getenv abs_srcdir PG_ABS_SRCDIR
\set reaches_sql :abs_srcdir '/sql/include/reaches.sql'
\i :reaches_sql
SELECT c.call, pg_temp.reaches('tenant_backup.' || c.call) AS reaches FROM (VALUES
    ('backup_restore(1)'),
    ('backup_restore(1::bigint)'),
    ('backup_restore(backup_id => 1)'),
    ('backup_restore(1, true)'),
    ('backup_restore(1, false)'),
    ('backup_restore(1::bigint, true)'),
    ('backup_restore(1, true::boolean)'),
    ('backup_restore(1, ''true'')'),
    ('backup_restore(1, NULL)'),
    ('backup_restore(1, strict => true)'),
    ('backup_restore(backup_id => 1, strict => true)'),
    ('backup_restore(strict => true, backup_id => 1)'),
    ('backup_restore(1, dry_run => true)'),
    ('backup_restore(backup_id => 1, dry_run => false)'),
    ('backup_restore(1, dry_run => false, strict => true)'),
    ('backup_restore(1, dry_run => false, mode => ''missing'')'),
    ('backup_restore(1, true, false)'),
    ('backup_restore(1, true, NULL, ''exact'', NULL, true)'),
    ('backup_restore_async(1)'),
    ('backup_restore_async(1, true)'),
    ('backup_restore_async(1, strict => true)')) AS c(call);

-- What they do. Positionally, true is strict: the table dropped since the backup refuses the
-- restore; false skips it (listed with NULL counts) and restores the rest.
\set VERBOSITY terse
SELECT * FROM tenant_backup.backup_restore(:b, true);
SELECT string_agg(note, ',' ORDER BY id) AS unchanged FROM rs.items WHERE rs_tenant = 3201;
SELECT * FROM tenant_backup.backup_restore(:b, strict => true);
SELECT * FROM tenant_backup.backup_restore(:b, false);
SELECT string_agg(note, ',' ORDER BY id) AS restored FROM rs.items WHERE rs_tenant = 3201;
-- The options form by name: a preview, and its strict.
UPDATE rs.items SET note = 'changed again' WHERE rs_tenant = 3201;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged,
       pre_restore_backup_id FROM tenant_backup.backup_restore(:b, dry_run => true);
SELECT * FROM tenant_backup.backup_restore(:b, dry_run => false, strict => true);
SELECT table_name, rows_removed, rows_restored, pre_restore_backup_id > :id_base AS undo_backup
FROM tenant_backup.backup_restore(:b, false, true);
SELECT string_agg(note, ',' ORDER BY id) AS restored FROM rs.items WHERE rs_tenant = 3201;
SELECT * FROM tenant_backup.backup_restore(:b, dry_run => NULL);
\set VERBOSITY default

-- An asynchronous job carries the session's tenant_backup.* settings it SET, and its TimeZone,
-- lc_monetary, xmloption and lock_timeout whatever set them; not statement_timeout (a job is
-- bounded by tenant_backup.job_timeout), not search_path (pinned in the job as in the call). The
-- submission rolls back: the job never runs.
BEGIN;
SET LOCAL TimeZone = 'Asia/Kolkata';
SET LOCAL lock_timeout = '250ms';
SET LOCAL statement_timeout = '50s';
SET LOCAL search_path = rs, public;
SET LOCAL xmloption = document;
SELECT tenant_backup.backup_restore_async(:b) AS j \gset
SELECT settings->>'TimeZone' AS time_zone, settings->>'lock_timeout' AS lock_timeout,
       settings->>'xmloption' AS xmloption, settings->>'lc_monetary' = current_setting('lc_monetary') AS lc_monetary,
       settings->>'tenant_backup.tenant_column' AS tenant_column, settings ? 'statement_timeout' AS statement_timeout,
       settings ? 'search_path' AS search_path
FROM tenant_backup.backup_job(:j);
ROLLBACK;
