-- Issue 21: side by side. backup_restore_into(id, target_schema) materializes a backup's tables,
-- with the tenant's rows, in a new schema owned by the caller; production rows are untouched.
-- Tenant column "acct29i" (this file's own tables only).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.encryption_key_command = 'echo 5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
SET tenant_backup.tenant_column = 'acct29i';
SET tenant_backup.pre_restore_backup = off;
CREATE SCHEMA i29;
CREATE SCHEMA i29b;
CREATE TABLE i29.accounts (acct29i integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE i29.projects (id integer PRIMARY KEY, acct29i integer NOT NULL REFERENCES i29.accounts,
                           name varchar(40) NOT NULL, created date DEFAULT '2026-01-01');
CREATE TABLE i29.tasks (id serial PRIMARY KEY, acct29i integer NOT NULL, project_id integer NOT NULL REFERENCES i29.projects,
                        title text NOT NULL CHECK (title <> ''), body text);
CREATE TABLE i29.tags (task_id integer NOT NULL REFERENCES i29.tasks, label text); -- found through tasks
CREATE TABLE i29.legacy (acct29i integer NOT NULL, note text, amount numeric(10,2));
CREATE TABLE i29.items (acct29i integer NOT NULL, sku text PRIMARY KEY);
CREATE TABLE i29b.items (acct29i integer NOT NULL, n integer);
CREATE INDEX ON i29.legacy (acct29i);
CREATE INDEX ON i29.items (acct29i);
CREATE INDEX ON i29b.items (acct29i);
CREATE INDEX ON i29.projects (acct29i);
CREATE INDEX ON i29.tasks (acct29i);
CREATE INDEX ON i29.tags (task_id);
INSERT INTO i29.accounts VALUES (2931, 'acme'), (2932, 'globex');
INSERT INTO i29.projects VALUES (1, 2931, 'website'), (2, 2931, 'app'), (9, 2932, 'theirs');
INSERT INTO i29.tasks (acct29i, project_id, title, body) VALUES (2931, 1, 'design', repeat('long text ', 20000)),
    (2931, 2, 'plan', NULL), (2932, 9, 'theirs', 'secret of globex');
INSERT INTO i29.tags VALUES (1, 'urgent'), (3, 'theirs');
INSERT INTO i29.legacy VALUES (2931, 'old', 12.50), (2932, 'theirs', 1);
INSERT INTO i29.items VALUES (2931, 'A-1'), (2932, 'Z-9');
INSERT INTO i29b.items VALUES (2931, 7);
RESET client_min_messages;
SELECT tenant_backup.backup_create('2931', 'yesterday') AS b1 \gset
SELECT tenant_backup.backup_create('2932', 'theirs') AS b2 \gset
SELECT set_config('i29.b1', :'b1', false) IS NOT NULL AS set;
SELECT encrypted FROM tenant_backup.backups WHERE id = :b1;

-- Since the backup: project 2 deleted with its task, a task edited, a column added, a type
-- widened, and a table dropped.
DELETE FROM i29.tasks WHERE project_id = 2;
DELETE FROM i29.projects WHERE id = 2;
UPDATE i29.tasks SET title = 'design v2' WHERE title = 'design';
ALTER TABLE i29.tasks ADD COLUMN done boolean NOT NULL DEFAULT false;
ALTER TABLE i29.projects ALTER COLUMN name TYPE text;
DROP TABLE i29.legacy;
CREATE TABLE i29.live_counts AS SELECT (SELECT count(*) FROM i29.projects) AS projects, (SELECT count(*) FROM i29.tasks) AS tasks,
    (SELECT string_agg(title, ',' ORDER BY id) FROM i29.tasks) AS titles;

-- Yesterday's data beside today's: one table per table of the backup (two tables named alike
-- are named schema.table), the tenant's rows only; the live tables are only read (ACCESS SHARE).
BEGIN;
SELECT table_name, restored_as, rows_restored FROM tenant_backup.backup_restore_into(:b1, 'yesterday') ORDER BY 1;
SELECT DISTINCT mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.locktype = 'relation' AND l.pid = pg_backend_pid() AND c.relnamespace = 'i29'::regnamespace;
COMMIT;
SELECT id, name FROM yesterday.projects ORDER BY id;
SELECT id, project_id, title, length(body) AS body_length FROM yesterday.tasks ORDER BY id;
SELECT * FROM yesterday.tags;
SELECT * FROM yesterday.legacy;
SELECT * FROM yesterday."i29.items";
SELECT * FROM yesterday."i29b.items";
-- Production is untouched.
SELECT (SELECT count(*) FROM i29.projects) AS projects, (SELECT count(*) FROM i29.tasks) AS tasks,
    (SELECT string_agg(title, ',' ORDER BY id) FROM i29.tasks) AS titles FROM i29.live_counts
EXCEPT SELECT * FROM i29.live_counts;
-- Owned by the caller; the columns a restore would load (the type as it is now, the column added
-- since left out), NOT NULL and the primary key; no default, CHECK, foreign key or other index.
SELECT nspowner::regrole = current_user::regrole AS schema_owned FROM pg_namespace WHERE nspname = 'yesterday';
SELECT count(*) FILTER (WHERE relowner::regrole <> current_user::regrole) AS owned_by_others
FROM pg_class WHERE relnamespace = 'yesterday'::regnamespace;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'yesterday'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, a.attnum;
SELECT c.relname, con.contype FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
WHERE c.relnamespace = 'yesterday'::regnamespace ORDER BY 1, 2;
SELECT count(*) AS indexes FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relnamespace = 'yesterday'::regnamespace AND NOT i.indisprimary;
-- Copying a row back by hand.
INSERT INTO i29.projects SELECT id, 2931, name FROM yesterday.projects WHERE id = 2;
SELECT id, name FROM i29.projects WHERE acct29i = 2931 ORDER BY id;

-- Refused: a schema that exists and is not empty, a system schema, one of another role; an
-- existing empty schema of the caller is used.
CREATE FUNCTION i29.refused(target name, backup bigint DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tenant_backup.backup_restore_into(coalesce(backup, current_setting('i29.b1')::bigint), target);
    RETURN 'created';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'backup [0-9]+', 'backup N');
END
$$;
SELECT i29.refused('yesterday');
SELECT i29.refused('i29');
SELECT i29.refused('pg_catalog');
SELECT i29.refused('');
SELECT i29.refused(NULL);
CREATE ROLE i29_other;
CREATE SCHEMA theirs AUTHORIZATION i29_other;
SELECT i29.refused('theirs');
CREATE SCHEMA empty_one;
SELECT i29.refused('empty_one');
SELECT count(*) AS tables FROM pg_class WHERE relnamespace = 'empty_one'::regnamespace AND relkind = 'r';
-- The copies hold the tenant column, but are not tenant tables: excluded from backups.
SELECT count(*) AS copies_in_backups FROM tenant_backup.backup_tables()
WHERE table_name::text LIKE 'yesterday.%' OR table_name::text LIKE 'empty_one.%';
SELECT count(*) AS copies_excluded FROM tenant_backup.registered_tables r JOIN pg_class c ON c.oid = r.tbl
WHERE c.relnamespace IN ('yesterday'::regnamespace, 'empty_one'::regnamespace) AND r.excluded;
-- The name is a name, never SQL: it is quoted as an identifier.
SELECT DISTINCT split_part(restored_as, '.', 1) AS schema
FROM tenant_backup.backup_restore_into(:b1, 'x"; DROP SCHEMA i29 CASCADE; --');
SELECT count(*) AS i29_still_there FROM pg_namespace WHERE nspname = 'i29';
SELECT count(*) AS created FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'x"; DROP SCHEMA i29 CASCADE; --' AND c.relkind = 'r';

-- Permissions: row contents need backup.download (backup.view is not enough) and SELECT on every
-- table of the backup; a backup of another tenant is out of reach. Each call is audited.
CREATE ROLE i29_viewer;
CREATE ROLE i29_reader;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO i29_viewer, i29_reader', current_database()); END $$;
GRANT USAGE ON SCHEMA i29, i29b TO i29_viewer, i29_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA i29, i29b TO i29_viewer;
GRANT SELECT ON i29.accounts, i29.projects, i29.tags, i29.items, i29b.items TO i29_reader;
GRANT EXECUTE ON FUNCTION i29.refused(name, bigint) TO i29_viewer, i29_reader;
SELECT tenant_backup.backup_grant('i29_viewer', 'backup.view', '2931');
SELECT tenant_backup.backup_grant('i29_reader', 'backup.download', '2931');
SET ROLE i29_viewer;
SELECT i29.refused('viewer_copy');
RESET ROLE;
SELECT tenant_backup.backup_create('2931', 'today') AS b3 \gset
SET ROLE i29_reader;
SELECT i29.refused('reader_copy'); -- a table of the backup is gone: only backup admins see it
SELECT i29.refused('reader_copy', :b3); -- no SELECT on i29.tasks
SELECT i29.refused('reader_copy', :b2); -- another tenant's backup
RESET ROLE;
GRANT SELECT ON i29.tasks TO i29_reader;
SET ROLE i29_reader;
SELECT count(*) AS tables FROM tenant_backup.backup_restore_into(:b3, 'reader_copy');
SELECT count(*) AS rows_of_other_tenants FROM reader_copy.tasks WHERE acct29i <> 2931;
RESET ROLE;
SELECT nspowner::regrole AS owner FROM pg_namespace WHERE nspname = 'reader_copy';
SELECT action, outcome, count(*) FROM tenant_backup.backup_audit
WHERE action = 'restore_into' AND outcome = 'ok' GROUP BY 1, 2 ORDER BY 1, 2;

-- A superuser's copy runs no other role's code as a superuser: a domain's CHECK of a table owned
-- by another role runs as that owner (as a restore loads it); a table dropped since whose column
-- type would run another role's code is refused.
CREATE ROLE i29_owner;
GRANT USAGE, CREATE ON SCHEMA i29 TO i29_owner;
CREATE TABLE i29.checks_run (by_role name);
GRANT INSERT ON i29.checks_run TO i29_owner;
SET ROLE i29_owner;
CREATE FUNCTION i29.note_check(v text) RETURNS boolean LANGUAGE sql
    AS $$ INSERT INTO i29.checks_run VALUES (current_user) RETURNING true $$;
CREATE DOMAIN i29.checked_text AS text CHECK (i29.note_check(VALUE));
CREATE TABLE i29.owned (acct29i integer NOT NULL, v i29.checked_text);
CREATE INDEX ON i29.owned (acct29i);
INSERT INTO i29.owned VALUES (2931, 'mine');
CREATE TABLE i29.owned_gone (acct29i integer NOT NULL, v i29.checked_text);
CREATE INDEX ON i29.owned_gone (acct29i);
RESET ROLE;
SET tenant_backup.table_owners = 'i29_owner';
SELECT tenant_backup.backup_create('2931', 'with a domain') AS b4 \gset
DELETE FROM i29.checks_run;
SELECT table_name, rows_restored FROM tenant_backup.backup_restore_into(:b4, 'as_superuser')
WHERE table_name LIKE 'i29.owned%' ORDER BY 1;
SELECT DISTINCT by_role FROM i29.checks_run;
DROP TABLE i29.owned_gone;
SELECT i29.refused('as_superuser_2', :b4);
RESET tenant_backup.table_owners;

RESET tenant_backup.pre_restore_backup;
RESET tenant_backup.tenant_column;
SELECT tenant_backup.backup_revoke('i29_viewer', 'backup.view', '2931');
SELECT tenant_backup.backup_revoke('i29_reader', 'backup.download', '2931');
SELECT count(*) AS exclusions_before FROM tenant_backup.registered_tables \gset
SET client_min_messages = warning;
DROP SCHEMA i29, i29b, yesterday, empty_one, theirs, reader_copy, as_superuser, "x""; DROP SCHEMA i29 CASCADE; --" CASCADE;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM i29_viewer, i29_reader', current_database()); END $$;
DROP ROLE i29_viewer, i29_reader, i29_other, i29_owner;
RESET client_min_messages;
-- The copies' exclusions went with their tables (an event trigger on sql_drop).
SELECT :exclusions_before - count(*) AS exclusions_gone FROM tenant_backup.registered_tables;
