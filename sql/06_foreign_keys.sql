-- tenant_backup regression tests, part 6: foreign keys. A restore loads with triggers off, so
-- it checks every foreign key that touches a restored table itself; a restore that would leave
-- a broken reference fails and restores nothing.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
-- Backup ids printed in this file start at 6001, whatever ran before.
SELECT setval('tenant_backup.backups_id_seq', 6000) AS id_base \gset

-- A self-reference inside the tenant: restored rows reference each other, in any load order.
ALTER TABLE app.customers ADD COLUMN referred_by integer REFERENCES app.customers;
UPDATE app.customers c SET referred_by = r.id
FROM app.customers r WHERE r.tenant_id = 1 AND r.name = 'Carol' AND c.tenant_id = 1 AND c.name IN ('Alice', 'Bob');
UPDATE app.customers c SET referred_by = r.id
FROM app.customers r WHERE r.tenant_id = 1 AND r.name = 'Alice' AND c.tenant_id = 1 AND c.name = 'Carol';

CREATE TABLE t1_before AS SELECT * FROM app.tenant_rows(ARRAY[1]);
CREATE TABLE others_before AS SELECT * FROM app.tenant_rows(ARRAY[2, 3]);
SELECT tenant_backup.backup_create('1', 'fk') AS bid \gset
UPDATE app.customers SET referred_by = NULL WHERE tenant_id = 1;
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT c.name, r.name AS referred_by FROM app.customers c LEFT JOIN app.customers r ON r.id = c.referred_by
WHERE c.tenant_id = 1 ORDER BY c.id;

------------------------------------------------------------------------------------------------
-- A shared table (no tenant column, not in the backup) references a row that the restore would
-- remove: error, nothing restored. ON DELETE CASCADE does not change that: a restore does not
-- delete rows outside the tenant.
------------------------------------------------------------------------------------------------
CREATE TABLE app.legacy_invoices (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES app.customers ON DELETE CASCADE
);
INSERT INTO app.customers (tenant_id, name) VALUES (1, 'Newcomer');
INSERT INTO app.legacy_invoices SELECT 1, id FROM app.customers WHERE name = 'Newcomer';
-- (a legacy invoice of a customer that is in the backup is fine)
INSERT INTO app.legacy_invoices SELECT 2, id FROM app.customers WHERE name = 'Alice';
UPDATE app.tenants SET name = 'Acme (changed)' WHERE tenant_id = 1;
CREATE TABLE t1_changed AS SELECT * FROM app.tenant_rows(ARRAY[1]);
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_changed', ARRAY[1]);
SELECT count(*) AS invoices FROM app.legacy_invoices;
-- Without the offending invoice the restore works, and keeps the other one.
DELETE FROM app.legacy_invoices WHERE id = 1;
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT i.id, c.name FROM app.legacy_invoices i JOIN app.customers c ON c.id = i.customer_id;
DROP TABLE app.legacy_invoices;

------------------------------------------------------------------------------------------------
-- A restored row references a row of a shared table that no longer exists.
------------------------------------------------------------------------------------------------
UPDATE app.customers SET country = 'DE' WHERE tenant_id = 1 AND country = 'NL';
DELETE FROM app.countries WHERE code = 'NL';
CREATE TABLE t1_changed2 AS SELECT * FROM app.tenant_rows(ARRAY[1]);
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_changed2', ARRAY[1]);
INSERT INTO app.countries VALUES ('NL', 'Netherlands');
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);

------------------------------------------------------------------------------------------------
-- Another tenant's row references a row of this tenant that the restore would remove (the
-- foreign key does not include the tenant column, so nothing prevents such a row). This is the
-- same situation as the shared table above: the restore must fail with foreign_key_violation
-- (23503) rather than leave tenant 2's order pointing at a customer that no longer exists.
------------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
INSERT INTO app.customers (tenant_id, name) VALUES (1, 'Shared contact');
INSERT INTO app.orders (tenant_id, customer_id, placed_on, note)
    SELECT 2, id, '2024-09-09', 'tenant 2 order of a tenant 1 customer' FROM app.customers WHERE name = 'Shared contact';
CREATE TABLE t1_changed3 AS SELECT * FROM app.tenant_rows(ARRAY[1]);
CREATE TABLE others_changed3 AS SELECT * FROM app.tenant_rows(ARRAY[2, 3]);
SELECT pg_temp.sqlstate_of(format('SELECT * FROM tenant_backup.backup_restore(%s)', :bid)) AS restore_sqlstate;
-- No order references a missing customer; nothing was restored.
SELECT count(*) AS dangling_orders FROM app.orders o
WHERE NOT EXISTS (SELECT 1 FROM app.customers c WHERE c.id = o.customer_id);
SELECT * FROM app.diff('t1_changed3', ARRAY[1]);
SELECT * FROM app.diff('others_changed3', ARRAY[2, 3]);
-- Without tenant 2's order the restore works.
DELETE FROM app.orders WHERE note = 'tenant 2 order of a tenant 1 customer';
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);

------------------------------------------------------------------------------------------------
-- Single-column keys on the tenant column itself (a workspace registry): every row of the
-- tenant holds the same value, so the restore checks it once, not per row.
------------------------------------------------------------------------------------------------
-- (a) Restored rows reference a registry row that is not in the backup and no longer exists.
CREATE TABLE app.workspaces (id integer PRIMARY KEY);
INSERT INTO app.workspaces VALUES (1), (2), (3);
ALTER TABLE app.orders ADD CONSTRAINT orders_workspace_fk FOREIGN KEY (tenant_id) REFERENCES app.workspaces;
SET session_replication_role = replica; -- only to make the registry row vanish under tenant 1's orders
DELETE FROM app.workspaces WHERE id = 1;
RESET session_replication_role;
SELECT pg_temp.sqlstate_of(format('SELECT * FROM tenant_backup.backup_restore(%s)', :bid)) AS restore_sqlstate;
SELECT * FROM app.diff('t1_before', ARRAY[1]);
INSERT INTO app.workspaces VALUES (1);
SELECT count(*) AS restored_tables FROM tenant_backup.backup_restore(:bid);
ALTER TABLE app.orders DROP CONSTRAINT orders_workspace_fk;
DROP TABLE app.workspaces;
-- (b) A table outside the backup references the tenant's row of a restored registry table, and
-- the backup predates that row: the restore would remove it, so it fails.
CREATE TABLE app.tenant_settings (tenant_id integer PRIMARY KEY, theme text);
CREATE TABLE app.settings_log (tenant_id integer REFERENCES app.tenant_settings, entry text);
SELECT tenant_backup.backup_exclude_table('app.settings_log');
SELECT tenant_backup.backup_create('3', 'before settings') AS bid3 \gset
INSERT INTO app.tenant_settings VALUES (3, 'dark');
INSERT INTO app.settings_log VALUES (3, 'theme set');
SELECT pg_temp.sqlstate_of(format('SELECT * FROM tenant_backup.backup_restore(%s)', :bid3)) AS restore_sqlstate;
SELECT * FROM app.tenant_settings;
DELETE FROM app.settings_log;
SELECT table_name, rows_removed, rows_restored FROM tenant_backup.backup_restore(:bid3)
WHERE table_name = 'app.tenant_settings';
DROP TABLE app.settings_log, app.tenant_settings;

ALTER TABLE app.customers DROP COLUMN referred_by;
DROP TABLE t1_before, others_before, t1_changed, t1_changed2, t1_changed3, others_changed3;
