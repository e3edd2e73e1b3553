-- Issue 21, two gaps closed (hB):
--  1. backup_restore_async takes backup_restore's options: which function each call reaches, the
--     options read at submission by the same code (bad ones refused before anything is queued,
--     audited), and the job's row carrying them. Jobs that run are TAP 059's.
--  2. backup_restore_into of a table dropped since the backup creates it with the NOT NULL
--     columns, primary key and unique keys the archive recorded; a backup that recorded none (an
--     imported document) says so in a NOTICE.
-- Tenant column "acct37" (this file's own tables only).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 37000) AS id_base \gset
SET tenant_backup.tenant_column = 'acct37';
SET tenant_backup.unencrypted_backups = 'allow';
SET tenant_backup.pre_restore_backup = off;
SET log_min_error_statement = panic;
\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
\set reaches_sql :abs_srcdir '/sql/include/reaches.sql'
\i :reaches_sql
CREATE SCHEMA k37;
-- A composite primary key in another order than the columns, a unique key, a unique key with
-- NULLS NOT DISTINCT, a NOT NULL column in no key; and indexes a copy cannot be held to (partial,
-- on an expression) or that are no key (not unique).
CREATE TABLE k37.orders (acct37 integer NOT NULL, n integer NOT NULL, region text NOT NULL, code text, ref text,
                         label text NOT NULL, note text, PRIMARY KEY (acct37, region, n), UNIQUE (code));
CREATE UNIQUE INDEX orders_ref_key ON k37.orders (ref) NULLS NOT DISTINCT;
CREATE UNIQUE INDEX orders_partial ON k37.orders (note) WHERE note <> '';
CREATE UNIQUE INDEX orders_lower ON k37.orders (lower(label));
CREATE INDEX orders_acct ON k37.orders (acct37);
-- Nothing to hold its rows to: its copy gets nothing, and no NOTICE (the archive says "none").
CREATE TABLE k37.plain (acct37 integer, note text);
CREATE INDEX ON k37.plain (acct37);
INSERT INTO k37.orders VALUES (3701, 1, 'eu', 'A', 'r1', 'first', NULL), (3701, 2, 'eu', NULL, NULL, 'second', 'x'),
    (3701, 1, 'us', NULL, 'r3', 'third', NULL), (3702, 9, 'eu', 'Z', 'r9', 'theirs', NULL);
INSERT INTO k37.plain VALUES (3701, 'a'), (3701, NULL), (3702, 'theirs');
CREATE TABLE k37.items (acct37 integer NOT NULL, id integer PRIMARY KEY, note text);
CREATE INDEX ON k37.items (acct37);
INSERT INTO k37.items VALUES (3701, 1, 'one'), (3701, 2, 'two');
RESET client_min_messages;
SELECT tenant_backup.backup_create('3701', 'before the drop') AS b1 \gset
-- The same tenant through a downloaded document, imported: such an archive records no keys.
CREATE TEMP TABLE k37_doc AS SELECT row_number() OVER () AS n, line FROM tenant_backup.backup_download(:b1) AS line;
SELECT string_agg(line || E'\n', '' ORDER BY n) AS doc FROM k37_doc \gset
SELECT tenant_backup.backup_import(:'doc') AS b_imported \gset
\set doc ''

------------------------------------------------------------------------------------------------
-- 1. backup_restore_async's options form.
------------------------------------------------------------------------------------------------
-- The function each call reaches: as backup_restore's, positional true is strict, dry_run by name
-- reaches the options form.
SELECT c.call, pg_temp.reaches('tenant_backup.' || c.call) AS reaches FROM (VALUES
    ('backup_restore_async(1)'),
    ('backup_restore_async(1, true)'),
    ('backup_restore_async(1, strict => true)'),
    ('backup_restore_async(1, dry_run => true)'),
    ('backup_restore_async(1, dry_run => false, mode => ''missing'')'),
    ('backup_restore_async(1, dry_run => false, tables => ''{k37.items}'', strict => true)'),
    ('backup_restore_async(1, true, false)'),
    ('backup_restore_async(1, mode => ''missing'')')) AS c(call);

-- Bad options: refused at submission by backup_restore's own reading of them, nothing queued,
-- each refusal audited.
SELECT coalesce(max(id), 0) AS audit_base FROM tenant_backup.backup_audit \gset
SELECT coalesce(max(id), 0) AS job_base FROM tenant_backup.backup_jobs \gset
\set VERBOSITY terse
SELECT tenant_backup.backup_restore_async(:b1, dry_run => NULL);
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, mode => 'everything');
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, mode => NULL);
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, tables => '{}');
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, rows => '[]');
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, rows => '{}');
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, rows => '{"k37.items": {"id": 2}}');
SELECT * FROM tenant_backup.backup_restore(:b1, dry_run => false, mode => 'everything');
\set VERBOSITY default
SELECT count(*) AS jobs_queued FROM tenant_backup.backup_jobs WHERE id > :job_base;
SELECT pg_temp.audited(format('SELECT count(*) = 7 FROM tenant_backup.backup_audit WHERE id > %s '
                              'AND action = ''restore_async'' AND outcome <> ''ok''', :audit_base)) AS refusals_audited;

-- Submitted in a transaction that rolls back (the jobs never run): the job's row carries the
-- options as the call gave them, tables by the names they resolved to; the older forms carry
-- every default. A job needs backup.restore, a preview job too (it takes a worker slot): a role
-- holding backup.view only is refused both.
CREATE ROLE k37_view;
GRANT USAGE ON SCHEMA k37 TO k37_view;
GRANT SELECT ON ALL TABLES IN SCHEMA k37 TO k37_view;
SELECT tenant_backup.backup_grant('k37_view', 'backup.view', '3701');
BEGIN;
SELECT tenant_backup.backup_restore_async(:b1) AS j1 \gset
SELECT tenant_backup.backup_restore_async(:b1, true) AS j2 \gset
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, pre_restore_backup => false, mode => 'missing',
                                          tables => '{k37.items, k37.orders}', rows => NULL) AS j3 \gset
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false, rows => '{"k37.items": [{"id": 2}]}') AS j4 \gset
SELECT tenant_backup.backup_restore_async(:b1, dry_run => true) AS j5 \gset
SET LOCAL ROLE k37_view;
SAVEPOINT s;
\set VERBOSITY terse
SELECT tenant_backup.backup_restore_async(:b1, dry_run => true);
ROLLBACK TO s;
SELECT tenant_backup.backup_restore_async(:b1, dry_run => false);
\set VERBOSITY default
ROLLBACK TO s;
RESET ROLE;
SELECT j.id - :j1 AS job, j.kind, j.strict, j.options, j.pre_restore_backup_id, j.state
FROM tenant_backup.backup_jobs j WHERE j.id IN (:j1, :j2, :j3, :j4, :j5) ORDER BY j.id;
ROLLBACK;
SELECT count(*) AS jobs_queued FROM tenant_backup.backup_jobs WHERE id > :job_base;

------------------------------------------------------------------------------------------------
-- 2. backup_restore_into: a table dropped since, made with the keys the archive recorded.
------------------------------------------------------------------------------------------------
DROP TABLE k37.orders;
DROP TABLE k37.plain;
SELECT table_name, restored_as, rows_restored FROM tenant_backup.backup_restore_into(:b1, 'k37_copy') ORDER BY 1;
-- NOT NULL where the table had it; the primary key in its own column order, the unique keys
-- (NULLS NOT DISTINCT kept); not the partial or expression index, nor the plain one.
SELECT c.relname, a.attname, a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'k37_copy'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, a.attnum;
SELECT c.relname, con.contype, pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
WHERE c.relnamespace = 'k37_copy'::regnamespace ORDER BY 1, 2, 3;
SELECT c.relname, pg_get_indexdef(i.indexrelid) ~ 'NULLS NOT DISTINCT' AS nulls_not_distinct, count(*) AS indexes
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relnamespace = 'k37_copy'::regnamespace GROUP BY 1, 2 ORDER BY 1, 2;
SELECT acct37, n, region, code, ref, label FROM k37_copy.orders ORDER BY region, n;
-- The keys hold the copy's rows as they held the table's.
\set VERBOSITY terse
INSERT INTO k37_copy.orders VALUES (3701, 1, 'eu', 'B', 'r7', 'again', NULL);
INSERT INTO k37_copy.orders VALUES (3701, 3, 'eu', 'A', 'r8', 'same code', NULL);
INSERT INTO k37_copy.orders VALUES (3701, 4, 'eu', NULL, NULL, 'second NULL ref', NULL);
INSERT INTO k37_copy.orders VALUES (3701, 5, 'eu', NULL, 'r5', NULL, NULL);
INSERT INTO k37_copy.orders VALUES (3701, 6, 'eu', NULL, 'r6', 'two NULL codes are distinct', NULL);
\set VERBOSITY default

-- A backup whose archive did not record them: the copy is made without, and a NOTICE says so.
SELECT table_name, restored_as, rows_restored FROM tenant_backup.backup_restore_into(:b_imported, 'k37_doc') ORDER BY 1;
-- (items still exists: made LIKE it, with its primary key, as in 29_restore_into.)
SELECT c.relname, (SELECT count(*) FROM pg_constraint con WHERE con.conrelid = c.oid) AS constraints,
       (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attnotnull) AS not_null
FROM pg_class c WHERE c.relnamespace = 'k37_doc'::regnamespace AND c.relkind = 'r' ORDER BY 1;
