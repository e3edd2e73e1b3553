-- tenant_backup regression tests, part 20: whole tenants. Only the top-level table carries the
-- tenant column; the rest of a tenant's rows are found through foreign keys (paths), its own row
-- in the root table the tenant column references, and shared tables are left alone.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 20000) AS id_base \gset
-- This file's tenant column, so that the app.* tables of earlier files stay out of its backups.
SET tenant_backup.tenant_column = 'wt_tenant';

CREATE SCHEMA wt;
CREATE TABLE wt.accounts (id integer PRIMARY KEY, name text NOT NULL);           -- root
CREATE TABLE wt.plans (code text PRIMARY KEY, price integer);                      -- shared
CREATE TABLE wt.projects (id integer PRIMARY KEY, wt_tenant integer NOT NULL REFERENCES wt.accounts,
                          plan text REFERENCES wt.plans, name text,
                          partner integer REFERENCES wt.accounts);  -- another tenant's row, legitimately
CREATE INDEX ON wt.projects (wt_tenant);
CREATE TABLE wt.tasks (id integer PRIMARY KEY, project_id integer NOT NULL REFERENCES wt.projects, title text);
CREATE INDEX ON wt.tasks (project_id);
-- depth 2, with a self-reference (replies)
CREATE TABLE wt.comments (id integer PRIMARY KEY, task_id integer NOT NULL REFERENCES wt.tasks,
                          parent_id integer REFERENCES wt.comments, body text);
CREATE INDEX ON wt.comments (task_id);
-- depth 3
CREATE TABLE wt.reactions (comment_id integer NOT NULL REFERENCES wt.comments, emoji text);
CREATE INDEX ON wt.reactions (comment_id);
-- a composite key
CREATE TABLE wt.labels (project_id integer REFERENCES wt.projects, label text, color text,
                        PRIMARY KEY (project_id, label));
-- two foreign keys that lead to tenant rows: ambiguous until declared
CREATE TABLE wt.task_labels (task_id integer NOT NULL REFERENCES wt.tasks, project_id integer NOT NULL,
                             label text NOT NULL, FOREIGN KEY (project_id, label) REFERENCES wt.labels);
CREATE INDEX ON wt.task_labels (task_id);
-- a cycle: a team's lead is one of its members
CREATE TABLE wt.teams (id integer PRIMARY KEY, project_id integer NOT NULL REFERENCES wt.projects, lead_id integer);
CREATE INDEX ON wt.teams (project_id);
CREATE TABLE wt.members (id integer PRIMARY KEY, team_id integer NOT NULL REFERENCES wt.teams, name text);
CREATE INDEX ON wt.members (team_id);
ALTER TABLE wt.teams ADD FOREIGN KEY (lead_id) REFERENCES wt.members DEFERRABLE INITIALLY DEFERRED;
-- a nullable path, without an index
CREATE TABLE wt.attachments (id integer PRIMARY KEY, task_id integer REFERENCES wt.tasks, file text);
-- a partitioned child
CREATE TABLE wt.events (task_id integer NOT NULL REFERENCES wt.tasks, at date NOT NULL, what text)
    PARTITION BY RANGE (at);
CREATE TABLE wt.events_2025 PARTITION OF wt.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE wt.events_2026 PARTITION OF wt.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ON wt.events (task_id);

INSERT INTO wt.plans VALUES ('free', 0), ('pro', 10);
INSERT INTO wt.accounts VALUES (701, 'Acme'), (702, 'Globex');
INSERT INTO wt.projects VALUES (10, 701, 'pro', 'Rocket', 702), (11, 701, 'free', 'Anvil', NULL),
                               (20, 702, 'free', 'Gizmo', NULL);
INSERT INTO wt.tasks VALUES (100, 10, 'design'), (101, 10, 'build'), (110, 11, 'order'), (200, 20, 'plan');
INSERT INTO wt.comments VALUES (1000, 100, NULL, 'first'), (1001, 100, 1000, 'a reply'), (1002, 101, NULL, 'ok'),
                               (2000, 200, NULL, 'globex');
INSERT INTO wt.reactions VALUES (1000, '+1'), (1001, 'heart'), (2000, '+1');
INSERT INTO wt.labels VALUES (10, 'bug', 'red'), (10, 'idea', 'green'), (20, 'bug', 'red');
INSERT INTO wt.task_labels VALUES (100, 10, 'bug'), (101, 10, 'idea'), (200, 20, 'bug');
BEGIN;
INSERT INTO wt.teams VALUES (1, 10, 1), (2, 20, 2);
INSERT INTO wt.members VALUES (1, 1, 'Wile'), (2, 2, 'Hank'), (3, 1, 'Road');
COMMIT;
INSERT INTO wt.attachments VALUES (1, 100, 'a.png'), (2, NULL, 'orphan.png'), (3, 200, 'g.png'), (4, NULL, 'x.png');
INSERT INTO wt.events VALUES (100, '2025-06-01', 'created'), (101, '2026-02-01', 'moved'), (200, '2026-03-01', 'g');

-- Every row of every wt table, for comparing before and after.
CREATE FUNCTION wt.rows() RETURNS TABLE (tbl text, r text) LANGUAGE sql AS $$
    SELECT 'accounts', a::text FROM wt.accounts a UNION ALL SELECT 'plans', p::text FROM wt.plans p
    UNION ALL SELECT 'projects', p::text FROM wt.projects p UNION ALL SELECT 'tasks', t::text FROM wt.tasks t
    UNION ALL SELECT 'comments', c::text FROM wt.comments c UNION ALL SELECT 'reactions', x::text FROM wt.reactions x
    UNION ALL SELECT 'labels', l::text FROM wt.labels l UNION ALL SELECT 'task_labels', l::text FROM wt.task_labels l
    UNION ALL SELECT 'teams', t::text FROM wt.teams t UNION ALL SELECT 'members', m::text FROM wt.members m
    UNION ALL SELECT 'attachments', a::text FROM wt.attachments a UNION ALL SELECT 'events', e::text FROM wt.events e
$$;
CREATE TABLE wt.before AS SELECT * FROM wt.rows();
CREATE FUNCTION wt.diff(OUT missing bigint, OUT unexpected bigint) LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (SELECT * FROM wt.before EXCEPT ALL SELECT * FROM wt.rows()) m),
           (SELECT count(*) FROM (SELECT * FROM wt.rows() EXCEPT ALL SELECT * FROM wt.before) u)
$$;

-- How each table's rows are found: the root, the tenant column, paths, shared tables.
SELECT table_name, tenant_column, tenant_type, has_index, source, rows_found_by, path
FROM tenant_backup.backup_tables() WHERE table_name::text LIKE 'wt.%' ORDER BY table_name::text;
-- What backups would miss or do badly: the ambiguous table (and nothing guessed), a path without index.
SELECT table_name, reason, left_out, refuses_backups FROM tenant_backup.backup_table_gaps()
WHERE table_name::text LIKE 'wt.%' ORDER BY table_name::text;

-- Until the ambiguity is declared, a backup refuses, naming the table and the candidate keys.
\set VERBOSITY default
SELECT tenant_backup.backup_create('701');
SELECT tenant_backup.backup_register_table('wt.task_labels', via_foreign_key => 'no_such_fkey');
\set VERBOSITY terse
SELECT tenant_backup.backup_register_table('wt.task_labels', via_foreign_key => 'task_labels_task_id_fkey');
SELECT table_name, source, rows_found_by, path FROM tenant_backup.backup_tables()
WHERE table_name = 'wt.task_labels'::regclass;

-- The scheduler finds tenants in the tables with the tenant column, not through paths.
SELECT tenant_backup.backup_schedule_set(NULL, '0 3 * * *');
SELECT tenant FROM tenant_backup.backup_schedules() WHERE tenant IN ('701', '702') ORDER BY 1;
SELECT tenant_backup.backup_schedule_remove(NULL);

-- Rows whose path is NULL belong to no tenant: counted, and in no backup.
SELECT * FROM tenant_backup.backup_unowned_rows() WHERE table_name::text LIKE 'wt.%' ORDER BY 1;

-- The backup holds every row of tenant 701, in every table, parent-first.
SELECT tenant_backup.backup_create('701', 'whole acme') AS bid \gset
SELECT t ->> 'name' AS table_name, (t ->> 'rows')::int AS rows
FROM tenant_backup.backups, jsonb_array_elements(tables) WITH ORDINALITY AS e(t, n) WHERE id = :bid ORDER BY n;
SELECT * FROM tenant_backup.backup_verify(:bid);

-- Tenant 701 loses rows at every depth and gains some; tenant 702 and the shared plans change too,
-- and must stay as they are now after tenant 701's restore.
DELETE FROM wt.reactions WHERE comment_id = 1001;
DELETE FROM wt.comments WHERE id = 1001;
DELETE FROM wt.task_labels WHERE task_id = 101;
DELETE FROM wt.events WHERE task_id = 101;
DELETE FROM wt.comments WHERE task_id = 101;
DELETE FROM wt.tasks WHERE id = 101;
INSERT INTO wt.tasks VALUES (102, 11, 'new task');
INSERT INTO wt.comments VALUES (1003, 102, NULL, 'new comment');
UPDATE wt.accounts SET name = 'Acme Renamed' WHERE id = 701;
UPDATE wt.members SET name = 'Coyote' WHERE id = 1;
UPDATE wt.attachments SET file = 'orphan-changed.png' WHERE id = 2;
UPDATE wt.plans SET price = 12 WHERE code = 'pro';
INSERT INTO wt.comments VALUES (2001, 200, 2000, 'globex reply');
-- What the restore must produce: tenant 701 as backed up, everything else as it is now.
CREATE TABLE wt.expected AS
    SELECT * FROM wt.before WHERE NOT (tbl = 'plans' OR r = '(2,,orphan.png)')
    UNION ALL SELECT 'plans', p::text FROM wt.plans p
    UNION ALL SELECT 'attachments', '(2,,orphan-changed.png)'
    UNION ALL SELECT 'comments', '(2001,200,2000,"globex reply")';
DROP TABLE wt.before;
ALTER TABLE wt.expected RENAME TO before;

SELECT * FROM tenant_backup.backup_restore(:bid) ORDER BY table_name;
SELECT * FROM wt.diff();
SELECT name FROM wt.accounts WHERE id = 701;

-- A download of the backup imports and restores the same way (the path travels in the document).
SELECT string_agg(line, E'\n' ORDER BY n) AS doc
FROM tenant_backup.backup_download(:bid) WITH ORDINALITY AS d(line, n) \gset
SELECT tenant_backup.backup_import(:'doc') AS imported \gset
DELETE FROM wt.reactions WHERE comment_id = 1000;
SELECT * FROM tenant_backup.backup_restore(:imported) WHERE table_name IN ('wt.reactions', 'wt.comments');
SELECT * FROM wt.diff();
-- CSV of a path table, live and from the backup.
SELECT * FROM tenant_backup.tenant_export_csv('701', 'wt.comments');
SELECT * FROM tenant_backup.backup_export_csv(:bid, 'wt.reactions');

-- A restored row of a path table must reach the tenant. A document edited (and re-signed, as
-- SHA-256 proves it whole, not who wrote it) so that a task of tenant 701 hangs from tenant 702's
-- project imports, since its rows have no tenant column to check; its restore is refused.
CREATE FUNCTION pg_temp.resign(doc text) RETURNS text LANGUAGE sql AS $$
    WITH l AS (SELECT line, n FROM regexp_split_to_table(rtrim(doc, E'\n'), E'\n') WITH ORDINALITY AS t(line, n)),
         body AS (SELECT string_agg(line || E'\n', '' ORDER BY n) AS b FROM l WHERE n < (SELECT max(n) FROM l))
    SELECT b || '], "sha256": "' || encode(sha256(convert_to(b, 'UTF8')), 'hex') || '"}' || E'\n' FROM body
$$;
SELECT position('"id":110,"project_id":11,' IN :'doc') > 0 AS doc_has_task_110;
SELECT tenant_backup.backup_import(pg_temp.resign(replace(:'doc', '"id":110,"project_id":11,', '"id":110,"project_id":20,')))
    AS forged \gset
\set VERBOSITY default
SELECT * FROM tenant_backup.backup_restore(:forged);
\set VERBOSITY terse
SELECT * FROM wt.diff();
-- Nor may a restored row reference another tenant's row of a path table by any other key (a
-- reply to tenant 702's comment).
SELECT position('"id":1000,"task_id":100,"parent_id":null,' IN :'doc') > 0 AS doc_has_comment_1000;
SELECT tenant_backup.backup_import(pg_temp.resign(replace(:'doc', '"id":1000,"task_id":100,"parent_id":null,',
                                                                '"id":1000,"task_id":100,"parent_id":2000,')))
    AS forged \gset
SELECT * FROM tenant_backup.backup_restore(:forged);
SELECT * FROM wt.diff();

-- Drift of a path between backup and restore: a dropped foreign key, a path declared through
-- another key. Each is a clear error naming the table, and nothing is restored.
DELETE FROM wt.reactions WHERE comment_id = 1000;
ALTER TABLE wt.reactions DROP CONSTRAINT reactions_comment_id_fkey;
SELECT * FROM tenant_backup.backup_restore(:bid);
ALTER TABLE wt.reactions ADD FOREIGN KEY (comment_id) REFERENCES wt.comments;
-- A foreign key redefined under the same name on other columns is another path.
ALTER TABLE wt.events DROP CONSTRAINT events_task_id_fkey;
ALTER TABLE wt.events ADD COLUMN other_task integer;
ALTER TABLE wt.events ADD CONSTRAINT events_task_id_fkey FOREIGN KEY (other_task) REFERENCES wt.tasks;
SELECT * FROM tenant_backup.backup_restore(:bid);
ALTER TABLE wt.events DROP CONSTRAINT events_task_id_fkey;
ALTER TABLE wt.events DROP COLUMN other_task;
ALTER TABLE wt.events ADD FOREIGN KEY (task_id) REFERENCES wt.tasks;
SELECT tenant_backup.backup_register_table('wt.task_labels', via_foreign_key => 'task_labels_project_id_label_fkey');
\set VERBOSITY default
SELECT * FROM tenant_backup.backup_restore(:bid);
\set VERBOSITY terse
SELECT tenant_backup.backup_register_table('wt.task_labels', via_foreign_key => 'task_labels_task_id_fkey');
SELECT count(*) AS rows_of_acme_1000 FROM wt.reactions WHERE comment_id = 1000;
SELECT sum(rows_restored) AS restored FROM tenant_backup.backup_restore(:bid);
SELECT count(*) AS rows_of_acme_1000 FROM wt.reactions WHERE comment_id = 1000;

-- Excluding a table says it is not tenant data: it leaves backups; what hangs from it becomes a
-- gap, until it is excluded too.
SELECT tenant_backup.backup_exclude_table('wt.teams');
SELECT table_name, rows_found_by FROM tenant_backup.backup_tables()
WHERE table_name IN ('wt.teams'::regclass, 'wt.members'::regclass);
SELECT table_name, reason FROM tenant_backup.backup_table_gaps() WHERE table_name = 'wt.members'::regclass;
SELECT tenant_backup.backup_exclude_table('wt.members');
SELECT count(*) AS member_gaps FROM tenant_backup.backup_table_gaps() WHERE table_name = 'wt.members'::regclass;

-- Rows no backup would read are gaps, never silently missed: a partition with a foreign key of
-- its own (its partitioned table has none), and an inheritance child of a path table (foreign
-- keys are not inherited, and backups read ONLY the parent).
CREATE TABLE wt.logs (task_id integer NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE wt.logs_2026 PARTITION OF wt.logs FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
ALTER TABLE wt.logs_2026 ADD FOREIGN KEY (task_id) REFERENCES wt.tasks;
CREATE TABLE wt.old_tasks () INHERITS (wt.tasks);
SELECT table_name, reason FROM tenant_backup.backup_table_gaps()
WHERE table_name IN ('wt.logs_2026'::regclass, 'wt.old_tasks'::regclass) ORDER BY 1;
DROP TABLE wt.logs, wt.old_tasks;

-- A path through a table of an untrusted owner is a gap: named by every backup, and recorded in
-- the backup's catalog row (backup_status then shows the tenant's coverage as incomplete).
SELECT tenant_backup.backup_register_table('wt.teams', via_foreign_key => 'teams_project_id_fkey');
CREATE ROLE wt_untrusted;
CREATE TABLE wt.notes (task_id integer UNIQUE REFERENCES wt.tasks, body text);
CREATE TABLE wt.note_votes (task_id integer REFERENCES wt.notes (task_id));
ALTER TABLE wt.notes OWNER TO wt_untrusted;
SELECT table_name, reason FROM tenant_backup.backup_table_gaps() WHERE left_out ORDER BY 1;
SELECT tenant_backup.backup_create('701', 'with a gap') AS bid_gap \gset
SELECT jsonb_array_length(left_out) AS left_out, left_out -> 0 ->> 'table' AS first
FROM tenant_backup.backups WHERE id = :bid_gap;
SELECT left_out FROM tenant_backup.backups WHERE id = :bid;
SELECT tenant, coverage FROM tenant_backup.backup_status WHERE tenant IN ('701', '702') ORDER BY 1;
DROP TABLE wt.note_votes, wt.notes;
DROP ROLE wt_untrusted;

DELETE FROM tenant_backup.registered_tables WHERE tbl::text LIKE 'wt.%';
RESET tenant_backup.tenant_column;
