-- Issue 21: a restore's preview (dry_run) and undo (the pre_restore backup every restore takes
-- first). Tenant column "acct21r" (this file's own tables only).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.encryption_key_command = 'echo 5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
SET tenant_backup.tenant_column = 'acct21r';
SET tenant_backup.pre_restore_backup = on; -- the default (01_setup_and_tables turns it off for the other files)
CREATE SCHEMA r21;
CREATE TABLE r21.accounts (acct21r integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE r21.projects (id integer PRIMARY KEY, acct21r integer NOT NULL REFERENCES r21.accounts, name text NOT NULL);
CREATE TABLE r21.tasks (id serial PRIMARY KEY, acct21r integer NOT NULL, project_id integer NOT NULL REFERENCES r21.projects,
                        title text NOT NULL);
CREATE INDEX ON r21.projects (acct21r);
CREATE INDEX ON r21.tasks (acct21r);
INSERT INTO r21.accounts VALUES (2111, 'acme'), (2112, 'globex');
INSERT INTO r21.projects VALUES (1, 2111, 'website'), (2, 2111, 'app'), (9, 2112, 'theirs');
INSERT INTO r21.tasks (acct21r, project_id, title) VALUES (2111, 1, 'design'), (2111, 1, 'build'), (2111, 2, 'plan'),
                                                       (2112, 9, 'theirs');
RESET client_min_messages;
SELECT tenant_backup.backup_create('2111', 'an hour ago') AS b1 \gset

-- The customer deleted a project an hour ago, with its tasks, and edited another task since.
DELETE FROM r21.tasks WHERE project_id = 2;
DELETE FROM r21.projects WHERE id = 2;
UPDATE r21.tasks SET title = 'build v2' WHERE title = 'build';
INSERT INTO r21.tasks (acct21r, project_id, title) VALUES (2111, 1, 'ship');
CREATE TABLE r21.snapshot AS SELECT 'tasks' AS t, to_jsonb(x) AS row FROM r21.tasks x WHERE acct21r = 2111
    UNION ALL SELECT 'projects', to_jsonb(x) FROM r21.projects x WHERE acct21r = 2111;
SELECT count(*) AS backups_before FROM tenant_backup.backups WHERE tenant = '2111' \gset

-- Preview: what the restore would do, table by table; nothing changes, nothing is backed up.
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged,
       pre_restore_backup_id
FROM tenant_backup.backup_restore(:b1, dry_run => true) WHERE table_name LIKE 'r21.%' ORDER BY table_name;
SELECT count(*) = :backups_before AS no_new_backup FROM tenant_backup.backups WHERE tenant = '2111';
SELECT (SELECT count(*) FROM r21.tasks WHERE acct21r = 2111) AS tasks, (SELECT count(*) FROM r21.projects WHERE acct21r = 2111) AS projects;
SELECT outcome FROM tenant_backup.backup_audit WHERE action = 'restore_preview' AND backup_id = :b1;

-- The restore backs up the tenant as it is first (kind pre_restore, labelled with the restore)
-- and reports that backup's id.
SELECT table_name, rows_removed, rows_restored, only_in_backup IS NULL AS no_diff, pre_restore_backup_id IS NOT NULL AS undo
FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name LIKE 'r21.%' ORDER BY table_name;
SELECT id AS undo, kind, label = 'before restore of backup ' || :b1 AS labelled, status
FROM tenant_backup.backups WHERE tenant = '2111' AND kind = 'pre_restore' ORDER BY id DESC LIMIT 1 \gset
SELECT :'kind' AS kind, :'labelled' AS labelled, :'status' AS status;
-- The tenant is the backup again ...
SELECT table_name, only_in_backup, only_live, changed, unchanged FROM tenant_backup.backup_diff(:b1) WHERE table_name LIKE 'r21.%' ORDER BY 1;
-- ... and restoring the pre_restore backup undoes the restore: the rows are as before it.
SELECT table_name, rows_restored FROM tenant_backup.backup_restore(:undo, dry_run => false, pre_restore_backup => false)
WHERE table_name LIKE 'r21.%' ORDER BY table_name;
SELECT (SELECT count(*) FROM r21.snapshot) AS rows_before_restore,
       (SELECT count(*) FROM r21.snapshot s WHERE EXISTS (
            SELECT 1 FROM r21.tasks x WHERE s.t = 'tasks' AND to_jsonb(x) = s.row
            UNION ALL SELECT 1 FROM r21.projects x WHERE s.t = 'projects' AND to_jsonb(x) = s.row)) AS found_again,
       (SELECT count(*) FROM r21.tasks WHERE acct21r = 2111) + (SELECT count(*) FROM r21.projects WHERE acct21r = 2111) AS rows_now;

-- The one-argument form takes it too (its result is unchanged: backup_list shows the backup).
SELECT table_name, rows_removed, rows_restored FROM tenant_backup.backup_restore(:b1) WHERE table_name LIKE 'r21.%' ORDER BY table_name;
SELECT count(*) AS pre_restore_backups FROM tenant_backup.backups WHERE tenant = '2111' AND kind = 'pre_restore';

-- A restore that rolls back keeps no pre_restore backup: it was taken in its transaction.
BEGIN;
SELECT count(*) FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name LIKE 'r21.%';
ROLLBACK;
SELECT count(*) AS pre_restore_backups FROM tenant_backup.backups WHERE tenant = '2111' AND kind = 'pre_restore';

-- Turned off: by the setting, or for one call.
SET tenant_backup.pre_restore_backup = off;
SELECT count(*), count(pre_restore_backup_id) FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name LIKE 'r21.%';
SET tenant_backup.pre_restore_backup = on;
SELECT count(*), count(pre_restore_backup_id) FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => false) WHERE table_name LIKE 'r21.%';
SELECT count(*) AS pre_restore_backups FROM tenant_backup.backups WHERE tenant = '2111' AND kind = 'pre_restore';
-- pre_restore backups count against no quota
SET tenant_backup.max_backups_per_tenant = 1;
SELECT count(pre_restore_backup_id) FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name LIKE 'r21.%';
RESET tenant_backup.max_backups_per_tenant;

-- Permissions: a preview needs backup.view (and checks the caller's privileges on the tables
-- and sequences as the restore would); the restore backup.restore, which covers its pre_restore
-- backup (no backup.create needed).
CREATE ROLE r21_viewer;
CREATE ROLE r21_restorer;
GRANT USAGE ON SCHEMA r21 TO r21_viewer, r21_restorer;
GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA r21 TO r21_viewer, r21_restorer;
GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA r21 TO r21_viewer, r21_restorer;
SELECT tenant_backup.backup_grant('r21_viewer', 'backup.view', '2111');
SELECT tenant_backup.backup_grant('r21_restorer', 'backup.restore', '2111');
SET ROLE r21_viewer;
SELECT count(*) FROM tenant_backup.backup_restore(:b1, dry_run => true) WHERE table_name LIKE 'r21.%';
SELECT count(*) FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name LIKE 'r21.%';
SET ROLE r21_restorer;
SELECT count(*), count(pre_restore_backup_id) FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name LIKE 'r21.%';
RESET ROLE;
SELECT current_user_name, kind FROM tenant_backup.backup_audit a JOIN tenant_backup.backups b ON b.id = a.backup_id
WHERE a.action = 'create' AND a.outcome = 'ok' AND b.kind = 'pre_restore' ORDER BY a.id DESC LIMIT 1;
-- dry_run is required to be given: NULL is refused.
SELECT count(*) FROM tenant_backup.backup_restore(:b1, dry_run => NULL) WHERE table_name LIKE 'r21.%';
RESET tenant_backup.tenant_column;
SELECT tenant_backup.backup_revoke('r21_viewer', 'backup.view', '2111');
SELECT tenant_backup.backup_revoke('r21_restorer', 'backup.restore', '2111');
SET client_min_messages = warning;
DROP SCHEMA r21 CASCADE;
DROP OWNED BY r21_viewer, r21_restorer;
DROP ROLE r21_viewer;
DROP ROLE r21_restorer;
RESET client_min_messages;
