-- tenant_backup regression tests, part 8: one tenant, one name. A tenant value is stored in the
-- form its column type prints it, so ' 42' and '42' (or an upper-case uuid) are the same tenant
-- for the catalog, the per-tenant lock and backup_list(); and a backup created in the current
-- transaction cannot be restored before it commits (its archive is not published yet).
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 8000) AS id_base \gset
SET tenant_backup.tenant_column = 'acct';
CREATE SCHEMA ident;
CREATE TABLE ident.items (acct int NOT NULL, n int NOT NULL);
CREATE INDEX ON ident.items (acct);
INSERT INTO ident.items SELECT 42, g FROM generate_series(1, 3) g;
-- Only this schema's table has the column "acct".
SELECT table_name FROM tenant_backup.backup_tables();

-- Same tenant, written three ways: all three backups are listed under '42'.
SELECT tenant_backup.backup_create(' 42') IS NOT NULL AS created;
SELECT tenant_backup.backup_create('+42') IS NOT NULL AS created;
SELECT tenant_backup.backup_create('42') IS NOT NULL AS created;
SELECT tenant, count(*) FROM tenant_backup.backups WHERE id > 8000 GROUP BY tenant;

-- With uuid tenant columns, upper and lower case are one tenant.
SET tenant_backup.tenant_column = 'org_id';
CREATE TABLE ident.docs (org_id uuid NOT NULL, body text);
CREATE INDEX ON ident.docs (org_id);
INSERT INTO ident.docs VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'x');
SELECT tenant_backup.backup_create('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11') AS uuid_bid \gset
SELECT tenant, row_count FROM tenant_backup.backups WHERE id = :uuid_bid;

-- Restoring a backup before the transaction that created it has committed: a clear error.
BEGIN;
SELECT tenant_backup.backup_create('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') AS same_tx_bid \gset
SELECT * FROM tenant_backup.backup_restore(:same_tx_bid);
ROLLBACK;
-- ... and once committed, the same sequence works.
SELECT tenant_backup.backup_create('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') AS bid \gset
DELETE FROM ident.docs;
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT org_id, body FROM ident.docs;
RESET tenant_backup.tenant_column;
