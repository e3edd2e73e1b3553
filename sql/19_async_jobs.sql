-- tenant_backup regression tests, issue 19.8: asynchronous restores and backups. Bad input and
-- refusals (each checked at submission, as the synchronous call checks before it changes
-- anything, and audited), who sees and cancels a job, and jobs that never run: one whose
-- submission rolls back, one cancelled before its submission commits. Jobs that run are tested
-- by TAP 047 (with the scheduler) and 048 (without shared_preload_libraries).
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 19800) AS id_base \gset
SET tenant_backup.tenant_column = 'aj_tenant';
SET tenant_backup.unencrypted_backups = 'allow';
SET client_min_messages = error;
SET log_min_error_statement = panic;
\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
CREATE SCHEMA aj;
CREATE TABLE aj.items (aj_tenant int NOT NULL, id serial PRIMARY KEY, note text);
CREATE INDEX ON aj.items (aj_tenant);
INSERT INTO aj.items (aj_tenant, note) VALUES (1981, 'a'), (1981, 'b'), (1982, 'c');
CREATE ROLE aj_restore;  -- backup.restore and backup.create on 1981
CREATE ROLE aj_view;     -- backup.view on 1981
CREATE ROLE aj_none;     -- nothing
CREATE ROLE aj_noseq;    -- backup.restore on 1981, but no privilege on the sequence
GRANT USAGE ON SCHEMA aj TO PUBLIC;
GRANT SELECT, INSERT, DELETE ON aj.items TO PUBLIC;
GRANT SELECT, UPDATE ON SEQUENCE aj.items_id_seq TO aj_restore;
SELECT tenant_backup.backup_grant('aj_restore', 'backup.restore', '1981');
SELECT tenant_backup.backup_grant('aj_restore', 'backup.create', '1981');
SELECT tenant_backup.backup_grant('aj_noseq', 'backup.restore', '1981');
SELECT tenant_backup.backup_grant('aj_view', 'backup.view', '1981');
SELECT tenant_backup.backup_create('1981') AS b1 \gset
SELECT coalesce(max(id), 0) AS audit_base FROM tenant_backup.backup_audit \gset
SELECT coalesce(max(id), 0) AS job_base FROM tenant_backup.backup_jobs \gset
\set VERBOSITY terse

-- Bad input: refused before anything is queued.
SELECT tenant_backup.backup_restore_async(NULL);
SELECT tenant_backup.backup_restore_async(-1);
SELECT tenant_backup.backup_create_async(NULL);
SELECT tenant_backup.backup_create_async(repeat('x', 1025));
SELECT tenant_backup.backup_create_async('1981', repeat('x', 1025));
SELECT tenant_backup.backup_create_async('not a number');
SELECT tenant_backup.backup_cancel(NULL);
SELECT tenant_backup.backup_cancel(-1);
SELECT count(*) FROM tenant_backup.backup_job(-1);

-- Refusals, as the synchronous calls refuse: no backup.restore (the tenant not named to a role
-- that may not view it), no backup.create, a sequence the restore could not advance.
SET ROLE aj_none;
SELECT tenant_backup.backup_restore_async(:b1);
SELECT tenant_backup.backup_create_async('1981');
SET ROLE aj_view;
SELECT tenant_backup.backup_restore_async(:b1);
SET ROLE aj_noseq;
SELECT tenant_backup.backup_restore_async(:b1);
RESET ROLE;
SELECT count(*) AS jobs_queued FROM tenant_backup.backup_jobs WHERE id > :job_base;
SELECT pg_temp.audited(format('SELECT count(*) = 4 FROM tenant_backup.backup_audit WHERE id > %s '
                              'AND outcome = ''denied''', :audit_base)) AS denials_recorded;
SELECT action, outcome, tenant, current_user_name FROM tenant_backup.backup_audit
WHERE id > :audit_base AND outcome = 'denied' ORDER BY id;

-- A job whose submission rolls back never runs: its row never was.
BEGIN;
SET LOCAL ROLE aj_restore;
SELECT tenant_backup.backup_restore_async(:b1) > 0 AS submitted;
ROLLBACK;
SELECT count(*) AS jobs_queued FROM tenant_backup.backup_jobs WHERE id > :job_base;

DELETE FROM aj.items WHERE aj_tenant = 1981 AND note = 'b';

-- Submitted and cancelled before the submission commits: it never starts. Who sees the job, and
-- who may cancel it.
BEGIN;
SET LOCAL ROLE aj_restore;
SELECT tenant_backup.backup_restore_async(:b1) AS j1 \gset
SELECT kind, tenant, backup_id = :b1 AS the_backup, requested_by, state, started_at IS NULL AS not_started
FROM tenant_backup.backup_job(:j1);
SELECT tenant_backup.backup_create_async('1981', 'async label') AS j2 \gset
SELECT kind, tenant, backup_id, label, state FROM tenant_backup.backup_job(:j2);
-- The session's SET tenant_backup.* values go with the job (the worker applies them).
SELECT settings->>'tenant_backup.tenant_column' AS tenant_column,
       settings->>'tenant_backup.unencrypted_backups' AS unencrypted
FROM tenant_backup.backup_job(:j2);
-- backup_restore's strict goes with the job.
SELECT tenant_backup.backup_restore_async(:b1, true) AS j3 \gset
SELECT kind, strict, state FROM tenant_backup.backup_job(:j1) UNION ALL
SELECT kind, strict, state FROM tenant_backup.backup_job(:j3);
SAVEPOINT s;
SET LOCAL ROLE aj_view;
SELECT count(*) AS aj_view_sees FROM tenant_backup.backup_jobs WHERE id IN (:j1, :j2);
SELECT tenant_backup.backup_cancel(:j1);
ROLLBACK TO s;
SET LOCAL ROLE aj_none;
SELECT count(*) AS aj_none_sees FROM tenant_backup.backup_jobs WHERE id IN (:j1, :j2);
SELECT tenant_backup.backup_cancel(:j1);
ROLLBACK TO s;
SELECT tenant_backup.backup_cancel(:j1) AS cancelled, tenant_backup.backup_cancel(:j2) AS cancelled,
       tenant_backup.backup_cancel(:j3) AS cancelled;
SELECT tenant_backup.backup_cancel(:j1) AS cancelled_again;
COMMIT;
SELECT kind, state, error, finished_at IS NOT NULL AS finished FROM tenant_backup.backup_jobs
WHERE id IN (:j1, :j2, :j3) ORDER BY id;
SELECT action, outcome, tenant, current_user_name, error ~ '^job \d+( cancelled| had ended)?$' AS names_the_job
FROM tenant_backup.backup_audit
WHERE id > :audit_base AND action IN ('restore_async', 'create_async', 'cancel') AND outcome = 'ok' ORDER BY id;
SELECT pg_temp.audited(format('SELECT count(*) = 2 FROM tenant_backup.backup_audit WHERE id > %s '
                              'AND action = ''cancel'' AND outcome = ''denied''', :audit_base)) AS cancel_denials;
-- Nothing was restored or backed up, once both workers have exited.
SELECT pg_temp.audited('SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = ''tenant_backup async job''')
    AS workers_gone;
SELECT count(*) AS backups FROM tenant_backup.backups WHERE tenant = '1981';
SELECT string_agg(note, ',' ORDER BY id) FROM aj.items WHERE aj_tenant = 1981;

-- Without tenant_backup in shared_preload_libraries, backup_progress is an error, not an empty
-- result (the jobs' state and outcome are in backup_jobs all the same).
SELECT * FROM tenant_backup.backup_progress;
