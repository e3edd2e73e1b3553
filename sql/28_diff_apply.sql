-- Issue 21: a restore applies only the differences to tables whose rows have a key (a primary
-- key, or a unique key on NOT NULL columns): the rows only live are deleted, the rows only in
-- the backup inserted, the changed ones updated. Tables without such a key, with columns added
-- since the backup, or found through a path keep DELETE + COPY. Either way the tenant ends
-- exactly as the backup. Tenant column "acct28" (this file's own tables only).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 28000) AS id_base \gset
SET tenant_backup.encryption_key_command = 'echo 5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
SET tenant_backup.tenant_column = 'acct28';
CREATE SCHEMA d28;
CREATE TABLE d28.accounts (acct28 integer PRIMARY KEY, name text NOT NULL);
-- a primary key and a TOASTed column; the child tasks references it, and comments (no tenant
-- column) are found through tasks: a path table
CREATE TABLE d28.projects (id integer PRIMARY KEY, acct28 integer NOT NULL REFERENCES d28.accounts,
                           name text NOT NULL, notes text);
CREATE TABLE d28.tasks (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, acct28 integer NOT NULL,
                        project_id integer NOT NULL REFERENCES d28.projects, title text NOT NULL,
                        points numeric NOT NULL DEFAULT 1);
CREATE TABLE d28.comments (id integer PRIMARY KEY, task_id integer NOT NULL REFERENCES d28.tasks, body text NOT NULL);
-- a composite primary key
CREATE TABLE d28.members (acct28 integer NOT NULL, project_id integer NOT NULL, user_name text NOT NULL, role text,
                          PRIMARY KEY (project_id, user_name));
-- only a unique key, on NOT NULL columns; and a second unique key (emails may swap)
CREATE TABLE d28.users (acct28 integer NOT NULL, login text NOT NULL, email text NOT NULL, UNIQUE (acct28, login),
                        UNIQUE (email));
-- only a unique key that may hold NULLs, and neither: DELETE + COPY
CREATE TABLE d28.tags (acct28 integer NOT NULL, code text, label text, UNIQUE (acct28, code));
CREATE TABLE d28.events (acct28 integer NOT NULL, message text);
-- schema drift: a column that changes type, one that is dropped, and a table that gains one
CREATE TABLE d28.invoices (id integer PRIMARY KEY, acct28 integer NOT NULL, amount integer NOT NULL, legacy text);
CREATE TABLE d28.notes (id integer PRIMARY KEY, acct28 integer NOT NULL, body text NOT NULL);
CREATE INDEX ON d28.projects (acct28);
CREATE INDEX ON d28.tasks (acct28);
CREATE INDEX ON d28.members (acct28);
CREATE INDEX ON d28.tags (acct28);
CREATE INDEX ON d28.events (acct28);
CREATE INDEX ON d28.invoices (acct28);
CREATE INDEX ON d28.notes (acct28);
CREATE INDEX ON d28.comments (task_id);
-- triggers off: a restore does not replay business logic
CREATE TABLE d28.trigger_log (what text);
CREATE FUNCTION d28.log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO d28.trigger_log VALUES (TG_TABLE_NAME || ' ' || TG_OP); RETURN NULL; END $$;
CREATE TRIGGER projects_log AFTER INSERT OR UPDATE OR DELETE ON d28.projects FOR EACH ROW EXECUTE FUNCTION d28.log_change();
CREATE TRIGGER tasks_log AFTER INSERT OR UPDATE OR DELETE ON d28.tasks FOR EACH ROW EXECUTE FUNCTION d28.log_change();

INSERT INTO d28.accounts VALUES (2801, 'acme'), (2802, 'globex');
INSERT INTO d28.projects VALUES (10, 2801, 'website', repeat('long notes ', 20000)), (11, 2801, 'app', 'short'),
                                (12, 2801, 'docs', NULL), (20, 2802, 'theirs', 'x');
INSERT INTO d28.tasks (acct28, project_id, title, points) VALUES (2801, 10, 'design', 1.0), (2801, 10, 'build', 2),
    (2801, 11, 'plan', 3), (2801, 12, 'write', 1), (2802, 20, 'theirs', 1);
INSERT INTO d28.comments VALUES (1, 1, 'looks good'), (2, 2, 'later'), (3, 4, 'typo'), (4, 5, 'theirs');
INSERT INTO d28.members VALUES (2801, 10, 'ann', 'owner'), (2801, 10, 'bob', 'dev'), (2801, 11, 'ann', NULL),
                               (2802, 20, 'zed', 'owner');
INSERT INTO d28.users VALUES (2801, 'ann', 'ann@acme'), (2801, 'bob', 'bob@acme'), (2802, 'zed', 'zed@globex');
INSERT INTO d28.tags VALUES (2801, 'red', 'Red'), (2801, NULL, 'untagged'), (2801, NULL, 'untagged'), (2802, 'red', 'Theirs');
INSERT INTO d28.events VALUES (2801, 'created'), (2801, 'created'), (2802, 'created');
INSERT INTO d28.invoices VALUES (1, 2801, 100, 'old'), (2, 2801, 250, NULL), (3, 2802, 7, NULL);
INSERT INTO d28.notes VALUES (1, 2801, 'first'), (2, 2801, 'second');
-- the tenant's rows as they are at the backup, to compare with after each restore
CREATE VIEW d28.tenant_rows AS
SELECT t, row FROM (
    SELECT 'projects' AS t, to_jsonb(x) AS row FROM d28.projects x WHERE acct28 = 2801
    UNION ALL SELECT 'tasks', to_jsonb(x) FROM d28.tasks x WHERE acct28 = 2801
    UNION ALL SELECT 'comments', to_jsonb(c) FROM d28.comments c JOIN d28.tasks k ON k.id = c.task_id WHERE k.acct28 = 2801
    UNION ALL SELECT 'members', to_jsonb(x) FROM d28.members x WHERE acct28 = 2801
    UNION ALL SELECT 'users', to_jsonb(x) FROM d28.users x WHERE acct28 = 2801
    UNION ALL SELECT 'tags', to_jsonb(x) FROM d28.tags x WHERE acct28 = 2801
    UNION ALL SELECT 'events', to_jsonb(x) FROM d28.events x WHERE acct28 = 2801
    UNION ALL SELECT 'invoices', to_jsonb(x) FROM d28.invoices x WHERE acct28 = 2801
    UNION ALL SELECT 'notes', to_jsonb(x) FROM d28.notes x WHERE acct28 = 2801) s;
CREATE VIEW d28.other_rows AS
SELECT to_jsonb(x)::text AS row FROM d28.projects x WHERE acct28 = 2802
UNION ALL SELECT to_jsonb(x)::text FROM d28.tasks x WHERE acct28 = 2802
UNION ALL SELECT to_jsonb(x)::text FROM d28.users x WHERE acct28 = 2802;
RESET client_min_messages;

SELECT tenant_backup.backup_create('2801', 'before the changes') AS b1 \gset
CREATE TABLE d28.at_backup AS SELECT t, row::text FROM d28.tenant_rows;
CREATE TABLE d28.other_at_backup AS SELECT row FROM d28.other_rows;
-- Whether the tenant is exactly as at the backup: rows missing now, rows that should not be there.
CREATE VIEW d28.mismatches AS
SELECT 'missing' AS kind, t, row FROM (SELECT t, row FROM d28.at_backup EXCEPT ALL SELECT t, row::text FROM d28.tenant_rows) m
UNION ALL
SELECT 'extra', t, row FROM (SELECT t, row::text FROM d28.tenant_rows EXCEPT ALL SELECT t, row FROM d28.at_backup) e;

-- The customer's changes since: a project deleted (with its task and comment), a task added and
-- one edited (points 1.0 becomes 1: equal as numbers, not the same value), a TOASTed note edited
-- at its end, a member's role, two users' emails swapped, a tag and an event, an invoice added.
DELETE FROM d28.comments WHERE id = 3;
DELETE FROM d28.tasks WHERE id = 4;
DELETE FROM d28.projects WHERE id = 12;
INSERT INTO d28.tasks (acct28, project_id, title) VALUES (2801, 11, 'ship');
UPDATE d28.tasks SET points = 1 WHERE id = 1;
UPDATE d28.tasks SET title = 'build v2' WHERE id = 2;
UPDATE d28.projects SET notes = repeat('long notes ', 20000) || '!' WHERE id = 10;
UPDATE d28.members SET role = 'lead' WHERE project_id = 10 AND user_name = 'bob';
UPDATE d28.users SET email = 'tmp' WHERE login = 'ann' AND acct28 = 2801;
UPDATE d28.users SET email = 'ann@acme' WHERE login = 'bob' AND acct28 = 2801;
UPDATE d28.users SET email = 'bob@acme' WHERE login = 'ann' AND acct28 = 2801;
INSERT INTO d28.tags VALUES (2801, 'green', 'Green');
INSERT INTO d28.events VALUES (2801, 'deleted');
INSERT INTO d28.invoices VALUES (4, 2801, 999, NULL);
UPDATE d28.projects SET name = 'their change' WHERE id = 20;
CREATE TABLE d28.others_now AS SELECT row FROM d28.other_rows;
TRUNCATE d28.trigger_log;

-- The preview and the restore report the same differences. Tables with a key say what was
-- written (only_in_backup added, only_live removed, changed updated); rows_removed and
-- rows_restored count as before: the tenant's rows replaced, the backup's rows now there.
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b1, dry_run => true) WHERE table_name LIKE 'd28.%' ORDER BY table_name;
BEGIN;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => false)
WHERE table_name LIKE 'd28.%' ORDER BY table_name;
SELECT * FROM d28.mismatches ORDER BY 1, 2, 3;
SELECT count(*) AS trigger_calls FROM d28.trigger_log;
-- the other tenant keeps its own change
SELECT (SELECT count(*) FROM (SELECT row FROM d28.others_now EXCEPT SELECT row FROM d28.other_rows) x) AS other_changed;
-- rows the restore left alone are the same row versions (not rewritten): only changed rows moved
SELECT xmin::text::bigint = txid_current() % 4294967296 AS rewritten, id FROM d28.tasks WHERE acct28 = 2801 ORDER BY id;
-- the identity sequence hands out ids past the restored ones
SELECT max(id) < (SELECT last_value FROM d28.tasks_id_seq) OR NOT (SELECT is_called FROM d28.tasks_id_seq) AS seq_ok
FROM d28.tasks;
-- nothing differs any more
SELECT table_name, only_in_backup, only_live, changed FROM tenant_backup.backup_diff(:b1)
WHERE table_name LIKE 'd28.%' AND only_in_backup + only_live + changed > 0;
ROLLBACK;

-- A sequence reset since the backup moves past the restored ids when the restore commits.
SELECT setval('d28.tasks_id_seq', 1, false);
DELETE FROM d28.comments WHERE task_id IN (5, 6);
DELETE FROM d28.tasks WHERE id >= 5 AND acct28 = 2801;
BEGIN;
SELECT count(*) > 0 AS restored FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => false);
COMMIT;
SELECT nextval('d28.tasks_id_seq') > (SELECT max(id) FROM d28.tasks WHERE acct28 = 2801) AS past_restored_ids;
SELECT * FROM d28.mismatches ORDER BY 1, 2, 3;

-- A foreign key broken by a removed row: another tenant's task references a project the
-- backup does not have. The restore fails, naming the constraint; nothing changed.
INSERT INTO d28.projects VALUES (13, 2801, 'new', NULL);
INSERT INTO d28.tasks (acct28, project_id, title) VALUES (2802, 13, 'theirs, on a project of 2801');
SELECT * FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => false);
SELECT count(*) AS project_13_kept FROM d28.projects WHERE id = 13;
DELETE FROM d28.tasks WHERE project_id = 13;
-- An aimed restore whose restored rows lose their parent: the customer deleted project 10 with
-- its tasks and members; restoring the tasks alone fails, naming the table to add; with it, the
-- rows come back.
BEGIN;
DELETE FROM d28.comments WHERE task_id IN (SELECT id FROM d28.tasks WHERE project_id = 10);
DELETE FROM d28.tasks WHERE project_id = 10;
DELETE FROM d28.members WHERE project_id = 10;
DELETE FROM d28.projects WHERE id = 10;
SAVEPOINT s;
SELECT * FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => false, tables => '{d28.tasks}');
ROLLBACK TO s;
SELECT table_name, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => false,
                                  tables => '{d28.projects,d28.tasks,d28.comments,d28.members}') ORDER BY table_name;
SELECT * FROM d28.mismatches ORDER BY 1, 2, 3;
ROLLBACK;

-- Schema drift since the backup: invoices.amount becomes bigint and legacy is dropped (every
-- column still filled: differences applied, the converted values compared); notes gains a
-- column with a default (which a reload gives every row: DELETE + COPY).
ALTER TABLE d28.invoices ALTER COLUMN amount TYPE bigint, DROP COLUMN legacy;
ALTER TABLE d28.notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;
UPDATE d28.notes SET pinned = true WHERE id = 1;
UPDATE d28.invoices SET amount = 101 WHERE id = 1;
BEGIN;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => false)
WHERE table_name IN ('d28.invoices', 'd28.notes') ORDER BY table_name;
SELECT id, amount FROM d28.invoices WHERE acct28 = 2801 ORDER BY id;
SELECT id, body, pinned FROM d28.notes WHERE acct28 = 2801 ORDER BY id;
ROLLBACK;

-- A large table (more than 2,000 archived rows) is sampled first: when most of its first 2,000
-- archived rows differ, it is deleted and reloaded at once (its difference counts are NULL);
-- otherwise every row is compared, and past a quarter of its rows (at least 1,000) differing it
-- is reloaded all the same. Either way the rows end as the backup's. (Keyed by numeric, so
-- compared by SQL's join: a streamed comparison, by an integer key, needs no sample but stops
-- early by the same rule, regression 38.)
INSERT INTO d28.accounts VALUES (2803, 'large');
CREATE TABLE d28.readings (id numeric PRIMARY KEY, acct28 integer NOT NULL REFERENCES d28.accounts, value integer NOT NULL);
INSERT INTO d28.readings SELECT g, 2803, g FROM generate_series(1, 3000) g;
CREATE INDEX ON d28.readings (acct28);
INSERT INTO d28.readings SELECT g, 2801, g FROM generate_series(3001, 3010) g;
CREATE TABLE d28.readings_then AS SELECT id, value FROM d28.readings WHERE acct28 = 2803;
SELECT tenant_backup.backup_create('2803') AS b3 \gset
CREATE FUNCTION d28.readings_differ() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM ((SELECT id, value FROM d28.readings WHERE acct28 = 2803 EXCEPT SELECT * FROM d28.readings_then)
                          UNION ALL (SELECT * FROM d28.readings_then EXCEPT SELECT id, value FROM d28.readings WHERE acct28 = 2803)) d $$;
-- 10 rows changed: compared, 10 changed.
BEGIN;
UPDATE d28.readings SET value = -value WHERE id <= 10;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b3, dry_run => false, pre_restore_backup => false) WHERE table_name = 'd28.readings';
SELECT d28.readings_differ() AS differing_after;
ROLLBACK;
-- Every row changed: the sample says so; reloaded.
BEGIN;
UPDATE d28.readings SET value = -value WHERE acct28 = 2803;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b3, dry_run => false, pre_restore_backup => false) WHERE table_name = 'd28.readings';
SELECT d28.readings_differ() AS differing_after;
ROLLBACK;
-- 1,200 rows changed, 200 of them among the first 2,000: the sample says few; compared whole,
-- more than 1,000 differ: reloaded.
BEGIN;
UPDATE d28.readings SET value = -value WHERE id BETWEEN 1801 AND 3000;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b3, dry_run => false, pre_restore_backup => false) WHERE table_name = 'd28.readings';
SELECT d28.readings_differ() AS differing_after;
ROLLBACK;
-- 600 rows changed, all among the first 2,000 (30% of the sample): reloaded on the sample's
-- word, although comparing every row would have applied 600 differences. The same rows either way.
BEGIN;
UPDATE d28.readings SET value = -value WHERE id <= 600;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b3, dry_run => false, pre_restore_backup => false) WHERE table_name = 'd28.readings';
SELECT d28.readings_differ() AS differing_after;
ROLLBACK;
-- 400 of the first 2,000 changed (20%): compared, 400 changed.
BEGIN;
UPDATE d28.readings SET value = -value WHERE id <= 400;
DELETE FROM d28.readings WHERE id = 2999;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b3, dry_run => false, pre_restore_backup => false) WHERE table_name = 'd28.readings';
SELECT d28.readings_differ() AS differing_after;
SELECT count(*) AS others_kept FROM d28.readings WHERE acct28 = 2801;
ROLLBACK;
