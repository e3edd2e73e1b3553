-- tenant_backup regression tests, part 19 (issue 19.10): every denied or failed call of an
-- audited function is in the audit trail, also when the failure is in its arguments (a NULL, a
-- tenant value that does not cast, an unknown permission, a missing large object), before the
-- function knows its tenant or backup. Such rows name what the call was given.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.tenant_column = 'af_tenant';
SET client_min_messages = error;
SET log_min_error_statement = panic;
CREATE SCHEMA af;
CREATE TABLE af.items (af_tenant int NOT NULL, id serial PRIMARY KEY);
CREATE INDEX ON af.items (af_tenant);
INSERT INTO af.items (af_tenant) VALUES (1901);
CREATE ROLE af_role;
SELECT coalesce(max(id), 0) AS audit_base FROM tenant_backup.backup_audit \gset
SET tenant_backup.unencrypted_backups = 'allow';
SELECT tenant_backup.backup_create('1901') AS bid \gset
RESET tenant_backup.unencrypted_backups;

SELECT tenant_backup.backup_create('acme');            -- does not cast to the int tenant column
SELECT tenant_backup.backup_create(NULL);
SELECT tenant_backup.backup_create('1901', repeat('x', 2000));
SELECT tenant_backup.backup_delete(NULL);
SELECT * FROM tenant_backup.backup_restore(NULL);
SELECT * FROM tenant_backup.backup_verify(NULL);
SELECT count(*) FROM tenant_backup.backup_download(NULL);
SELECT count(*) FROM tenant_backup.backup_export_csv(NULL, 'af.items');
SELECT count(*) FROM tenant_backup.backup_export_csv(:bid, 4294967295::oid::regclass);
SELECT count(*) FROM tenant_backup.tenant_export_csv(NULL, 'af.items');
SELECT count(*) FROM tenant_backup.tenant_export_csv('1901', NULL);
SELECT tenant_backup.backup_import(NULL);
SELECT tenant_backup.backup_import_large_object(4294967295);
SELECT tenant_backup.backup_grant('af_role', 'backup.everything', '1901');
SELECT tenant_backup.backup_grant(NULL, 'backup.view', '1901');
SELECT tenant_backup.backup_revoke('af_role', 'backup.view', repeat('9', 2000));
SELECT tenant_backup.backup_forget_tenant(NULL);
SELECT tenant_backup.backup_schedule_set('1901', cron => '0 25 * * *');
SELECT tenant_backup.backup_schedule_remove(repeat('9', 2000));
SELECT tenant_backup.backup_repository_add('af_repo', NULL);
SELECT tenant_backup.backup_repository_remove(NULL);
SELECT count(*) FROM tenant_backup.backup_repository_check(NULL);

\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
SELECT pg_temp.audited(format($$SELECT count(*) = 23 FROM tenant_backup.backup_audit WHERE id > %s$$, :audit_base));
-- One row per attempt, outcome failed, naming the tenant or backup the call was given.
SELECT action, outcome, left(tenant, 12) AS tenant, backup_id = :bid AS of_bid, error
FROM tenant_backup.backup_audit WHERE id > :audit_base ORDER BY id;
DROP ROLE af_role;
