-- tenant_backup regression tests, part 15: the read side of issue 14. Each attack is mounted by
-- an unprivileged role and fails, while normal use still works:
-- - 14.4: a download or CSV export renders only what the caller may SELECT (tables, columns,
--   no row-level security), whoever took the backup;
-- - 14.10: downloads, exports and verifies are audited even when the caller rolls back;
-- - 14.13: denials tell a role without grants on the tenant neither the tenant nor whether the
--   backup exists; reads work in read-only transactions; tenant arguments are bounded;
-- - 14.5 (13): an import's label and snapshot time are marked as the document's claim.
-- Without shared_preload_libraries the audit events outside the transaction go through the
-- fallback worker; test/t/015_audit_channel.pl covers the shared-memory queue.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 15000) AS id_base \gset
\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
SET tenant_backup.tenant_column = 'sa_tenant';
SET client_min_messages = error;
SET log_min_error_statement = panic;
CREATE SCHEMA sa;
CREATE TABLE sa.people (sa_tenant int NOT NULL, id int PRIMARY KEY, name text, ssn text);
CREATE TABLE sa.secrets (sa_tenant int NOT NULL, id int PRIMARY KEY, secret text);
INSERT INTO sa.people VALUES (1501, 1, 'Ann', '111-11-1111'), (1501, 2, 'Bob', '222-22-2222'),
    (1502, 3, 'Cy', '333-33-3333');
INSERT INTO sa.secrets VALUES (1501, 1, 'the recipe'), (1502, 2, 'the other recipe');

CREATE ROLE sa_reader; -- view and download on 1501, SELECT on everything: the normal case
CREATE ROLE sa_col;    -- download on 1501, SELECT on sa.people except ssn, and on sa.secrets
CREATE ROLE sa_both;   -- download on 1501, SELECT on sa.people except ssn, nothing on sa.secrets
CREATE ROLE sa_notab;  -- download on 1501, SELECT on sa.people, nothing on sa.secrets
CREATE ROLE sa_none;   -- no backup permission at all
CREATE ROLE sa_other;  -- view and download on 1502 only
GRANT USAGE ON SCHEMA sa TO PUBLIC;
GRANT SELECT ON sa.people, sa.secrets TO sa_reader, sa_other, sa_none;
GRANT SELECT (sa_tenant, id, name) ON sa.people TO sa_col, sa_both;
GRANT SELECT ON sa.secrets TO sa_col;
GRANT SELECT ON sa.people TO sa_notab;
SELECT tenant_backup.backup_grant(r::regrole, p, '1501')
FROM unnest(ARRAY['sa_reader', 'sa_col', 'sa_both', 'sa_notab']) r, unnest(ARRAY['backup.download']) p;
SELECT tenant_backup.backup_grant('sa_reader', 'backup.view', '1501');
SELECT tenant_backup.backup_grant('sa_other', p, '1502') FROM unnest(ARRAY['backup.view', 'backup.download']) p;

-- Backups taken by a superuser: they hold every column of every table.
SELECT tenant_backup.backup_create('1501', 'by the superuser') AS b1 \gset
SELECT tenant_backup.backup_create('1502') AS b2 \gset
SELECT max(id) AS audit_before FROM tenant_backup.backup_audit \gset

-- 14.4: a column the role may not SELECT is not exported through a backup.
SET ROLE sa_col;
SELECT ssn FROM sa.people;
SELECT count(*) FROM tenant_backup.backup_download(:b1);
SELECT * FROM tenant_backup.backup_export_csv(:b1, 'sa.people');
-- The table it may read exports as ever.
SELECT * FROM tenant_backup.backup_export_csv(:b1, 'sa.secrets');
-- A whole table it may not SELECT, and one error naming everything missing.
SET ROLE sa_notab;
SELECT count(*) FROM tenant_backup.backup_download(:b1);
SELECT * FROM tenant_backup.backup_export_csv(:b1, 'sa.secrets');
SELECT * FROM tenant_backup.backup_export_csv(:b1, 'sa.people');
SET ROLE sa_both;
SELECT count(*) FROM tenant_backup.backup_download(:b1);
-- Row-level security that applies to the role: a backup holds every row, so it is refused.
RESET ROLE;
ALTER TABLE sa.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_one ON sa.secrets USING (id = 1);
SET ROLE sa_reader;
SELECT count(*) FROM tenant_backup.backup_download(:b1);
SELECT * FROM tenant_backup.backup_export_csv(:b1, 'sa.secrets');
RESET ROLE;
ALTER TABLE sa.secrets DISABLE ROW LEVEL SECURITY;
-- Normal use: a role that may read everything downloads it all; so does the superuser.
SET ROLE sa_reader;
SELECT count(*) AS lines FROM tenant_backup.backup_download(:b1);
SELECT * FROM tenant_backup.backup_export_csv(:b1, 'sa.people');
RESET ROLE;
SELECT count(*) AS lines FROM tenant_backup.backup_download(:b1);
-- Every call is audited: the refusals and the exports that went through.
SELECT current_user_name, action, outcome, tenant, backup_id = :b1 AS this_backup
FROM tenant_backup.backup_audit WHERE id > :audit_before ORDER BY id;
SELECT max(id) AS audit_before FROM tenant_backup.backup_audit \gset

-- 14.10: what left the server is audited although the caller rolls back.
BEGIN;
SET LOCAL ROLE sa_reader;
SELECT count(*) > 0 AS downloaded FROM tenant_backup.backup_download(:b1);
SELECT count(*) AS exported FROM tenant_backup.backup_export_csv(:b1, 'sa.people');
SELECT count(*) AS exported_now FROM tenant_backup.tenant_export_csv('1501', 'sa.people');
SELECT ok, tables, rows FROM tenant_backup.backup_verify(:b1);
ROLLBACK;
SELECT current_user_name, action, outcome, tenant, backup_id = :b1 AS this_backup
FROM tenant_backup.backup_audit WHERE id > :audit_before ORDER BY id;
SELECT max(id) AS audit_before FROM tenant_backup.backup_audit \gset

-- 14.13: a role without grants on the tenant learns neither the tenant nor whether a backup
-- exists: an existing backup, a failed one and a missing one get the same denial.
INSERT INTO tenant_backup.backups (id, tenant, status, error) VALUES (:id_base + 900, '1501', 'failed', 'secret reason');
SET ROLE sa_none;
SELECT count(*) FROM tenant_backup.backup_download(:b1);
SELECT count(*) FROM tenant_backup.backup_download(:id_base + 900);
SELECT count(*) FROM tenant_backup.backup_download(:id_base + 999);
SELECT * FROM tenant_backup.backup_verify(:b1);
SELECT * FROM tenant_backup.backup_export_csv(:b1, 'sa.people');
SELECT * FROM tenant_backup.backup_restore(:b1);
SELECT tenant_backup.backup_delete(:b1);
SELECT tenant_backup.backup_delete(:id_base + 999);
-- Nor does a role whose grants are on another tenant.
SET ROLE sa_other;
SELECT count(*) FROM tenant_backup.backup_download(:b1);
-- A role with a permission on the tenant keeps the precise errors.
SELECT ok FROM tenant_backup.backup_verify(:b2);
SELECT tenant_backup.backup_delete(:b2);
SET ROLE sa_reader;
SELECT count(*) FROM tenant_backup.backup_download(:id_base + 900);
SELECT * FROM tenant_backup.backup_restore(:b1);
RESET ROLE;
-- Backup admins get "does not exist".
SELECT count(*) FROM tenant_backup.backup_download(:id_base + 999);
SELECT pg_temp.audited($$SELECT EXISTS (SELECT FROM tenant_backup.backup_audit WHERE backup_id = 15999 AND action = 'download' AND current_user_name = 'postgres')$$);
-- The audit trail, for admins, still names the real tenant of each denial.
SELECT current_user_name, action, outcome, tenant, backup_id - :id_base AS backup
FROM tenant_backup.backup_audit WHERE id > :audit_before ORDER BY id;
DELETE FROM tenant_backup.backups WHERE id = :id_base + 900;

-- 14.13: download, export and verify work in a read-only transaction (no row lock on the
-- catalog); verify returns its verdict and says it was not recorded.
BEGIN READ ONLY;
SET LOCAL ROLE sa_reader;
SELECT count(*) > 0 AS downloaded FROM tenant_backup.backup_download(:b1);
SELECT count(*) AS exported FROM tenant_backup.backup_export_csv(:b1, 'sa.people');
SET LOCAL client_min_messages = notice;
SELECT ok, tables, rows FROM tenant_backup.backup_verify(:b1);
COMMIT;
SELECT verified_at IS NULL AS not_recorded FROM tenant_backup.backups WHERE id = :b1;
SELECT ok FROM tenant_backup.backup_verify(:b1);
SELECT verify_status FROM tenant_backup.backups WHERE id = :b1;
-- Writes still refuse there.
BEGIN READ ONLY;
SELECT tenant_backup.backup_create('1501');
ROLLBACK;

-- 14.13: tenant and label arguments are bounded, with a clear error.
SELECT count(*) FROM tenant_backup.backup_list(repeat('x', 100000));
SELECT count(*) FROM tenant_backup.backup_list(repeat('x', 1024));
SELECT tenant_backup._stored_tenant(repeat('x', 100000));
SELECT tenant_backup._may('backup.nonsense', '1501');
SET ROLE sa_reader;
SELECT tenant_backup._may('backup.view', repeat('x', 100000)) AS may_long,
       tenant_backup._may('backup.view', '1501') AS may_1501;
RESET ROLE;
SELECT tenant_backup.backup_create('1501', repeat('l', 2000));
SELECT tenant_backup.backup_create(repeat('t', 2000));
SELECT count(*) FROM tenant_backup.tenant_export_csv(repeat('t', 2000), 'sa.people');

-- 14.5: an imported backup's label and snapshot time are the document's claim, and say so.
SELECT string_agg(line || E'\n', '') AS doc FROM tenant_backup.backup_download(:b1) line \gset
SELECT tenant_backup.backup_import(:'doc') AS imported \gset
SELECT i.kind, i.label, i.claimed ->> 'label' AS claimed_label,
       (i.claimed ->> 'snapshot_at')::timestamptz = o.snapshot_at AS claimed_snapshot,
       (i.claimed ->> 'backup_id')::bigint = o.id AS claimed_id, o.claimed IS NULL AS own_backup_claims_nothing
FROM tenant_backup.backups i, tenant_backup.backups o WHERE i.id = :imported AND o.id = :b1;

SELECT count(*) > 0 AS deleted FROM (SELECT tenant_backup.backup_delete(id) FROM tenant_backup.backups WHERE id > :id_base) d;
DROP SCHEMA sa CASCADE;
DELETE FROM tenant_backup.permissions WHERE role_id::regrole::text LIKE 'sa\_%';
DROP ROLE sa_reader, sa_col, sa_both, sa_notab, sa_none, sa_other;
RESET tenant_backup.tenant_column;
RESET client_min_messages;
RESET log_min_error_statement;
