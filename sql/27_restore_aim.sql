-- Issue 21: merge (mode => 'missing') and aimed restores (tables =>). Tenant column "acct21m"
-- (this file's own tables only).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.encryption_key_command = 'echo 5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
SET tenant_backup.tenant_column = 'acct21m';
SET tenant_backup.pre_restore_backup = off;
CREATE SCHEMA m21;
CREATE TABLE m21.accounts (acct21m integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE m21.projects (id integer PRIMARY KEY, acct21m integer NOT NULL REFERENCES m21.accounts, name text NOT NULL);
CREATE TABLE m21.tasks (id integer PRIMARY KEY, acct21m integer NOT NULL, project_id integer NOT NULL REFERENCES m21.projects,
                        title text NOT NULL);
CREATE TABLE m21.tags (acct21m integer NOT NULL, code text, label text, UNIQUE (acct21m, code));
CREATE TABLE m21.log (acct21m integer NOT NULL, message text);
CREATE INDEX ON m21.projects (acct21m);
CREATE INDEX ON m21.tasks (acct21m);
CREATE INDEX ON m21.log (acct21m);
INSERT INTO m21.accounts VALUES (2121, 'acme'), (2122, 'globex');
INSERT INTO m21.projects VALUES (1, 2121, 'website'), (2, 2121, 'app'), (9, 2122, 'theirs');
INSERT INTO m21.tasks VALUES (10, 2121, 1, 'design'), (20, 2121, 2, 'plan'), (21, 2121, 2, 'build'), (90, 2122, 9, 'x');
INSERT INTO m21.tags VALUES (2121, 'red', 'Red'), (2121, NULL, 'no code');
INSERT INTO m21.log VALUES (2121, 'created');
RESET client_min_messages;
SELECT tenant_backup.backup_create('2121', 'an hour ago') AS b1 \gset
SELECT set_config('m21.b1', :'b1', false) IS NOT NULL AS set;

-- The customer deleted project 2 an hour ago, with its tasks; since then they renamed project 1,
-- added a task, and the tags and log changed.
DELETE FROM m21.tasks WHERE project_id = 2;
DELETE FROM m21.projects WHERE id = 2;
UPDATE m21.projects SET name = 'website v2' WHERE id = 1;
INSERT INTO m21.tasks VALUES (11, 2121, 1, 'launch');
DELETE FROM m21.tags WHERE acct21m = 2121;
DELETE FROM m21.log WHERE acct21m = 2121;

-- Preview of the merge: only what is missing comes back.
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed
FROM tenant_backup.backup_restore(:b1, dry_run => true, mode => 'missing') WHERE table_name LIKE 'm21.%' ORDER BY 1;
-- The merge: project 2 comes back with its tasks; today's edits stay. A table without a key
-- (log) is skipped with a WARNING; a row whose unique key holds a NULL is never "missing".
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, mode => 'missing') WHERE table_name LIKE 'm21.%' ORDER BY 1;
SELECT id, name FROM m21.projects WHERE acct21m = 2121 ORDER BY id;
SELECT id, project_id, title FROM m21.tasks WHERE acct21m = 2121 ORDER BY id;
SELECT code, label FROM m21.tags WHERE acct21m = 2121 ORDER BY code;
SELECT count(*) AS log_rows FROM m21.log WHERE acct21m = 2121;
-- Merging again adds nothing; the other tenant was never touched.
SELECT sum(rows_restored) FROM tenant_backup.backup_restore(:b1, dry_run => false, mode => 'missing')
WHERE table_name LIKE 'm21.%';
SELECT count(*) AS other_tenant FROM m21.tasks WHERE acct21m = 2122;

-- Aimed: only the named tables are restored, the others are left as they are.
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, tables => '{m21.projects, m21.tasks}') ORDER BY 1;
SELECT id, name FROM m21.projects WHERE acct21m = 2121 ORDER BY id;
SELECT count(*) AS tags_left_alone FROM m21.tags WHERE acct21m = 2121;
-- Restoring projects alone would leave a task of a project created since the backup without its
-- project: refused, naming the table that must come with it.
INSERT INTO m21.projects VALUES (3, 2121, 'new');
INSERT INTO m21.tasks VALUES (30, 2121, 3, 'new task');
DO $$
DECLARE m text; h text;
BEGIN
    PERFORM tenant_backup.backup_restore(current_setting('m21.b1')::bigint, dry_run => false,
                                         tables => '{m21.projects}');
EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
    RAISE NOTICE 'refused: %', regexp_replace(m, 'backup [0-9]+', 'backup N');
    RAISE NOTICE 'hint: %', h;
END
$$;
-- ... which together succeed.
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, tables => '{m21.tasks, m21.projects}') ORDER BY 1;
-- A named table must be in the backup; the mode must be one of the two.
DO $$
BEGIN
    PERFORM tenant_backup.backup_restore(current_setting('m21.b1')::bigint, dry_run => false,
                                         tables => '{pg_catalog.pg_class}');
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, 'backup [0-9]+', 'backup N');
END
$$;
SELECT count(*) FROM tenant_backup.backup_restore(:b1, dry_run => true, mode => 'newest');
SELECT count(*) FROM tenant_backup.backup_restore(:b1, dry_run => false, tables => '{}');
-- The preview of an aimed restore shows those tables only.
SELECT table_name FROM tenant_backup.backup_restore(:b1, dry_run => true, tables => '{m21.tags}');

RESET tenant_backup.pre_restore_backup;
RESET tenant_backup.tenant_column;
SET client_min_messages = warning;
DROP SCHEMA m21 CASCADE;
RESET client_min_messages;
