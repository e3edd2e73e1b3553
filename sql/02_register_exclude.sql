-- tenant_backup regression tests, part 2: registering and excluding tables
-- (tenant_backup.backup_register_table / backup_exclude_table), and a round trip through a
-- registered table. Leaves tenant_backup.registered_tables empty for the following files.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
-- Backup ids printed in this file start at 2001, whatever ran before.
SELECT setval('tenant_backup.backups_id_seq', 2000) AS id_base \gset

-- app.audit's tenant column is "owner_tenant": registration makes it a tenant table.
SELECT tenant_backup.backup_register_table('app.audit', 'owner_tenant');
SELECT * FROM tenant_backup.backup_tables() WHERE source = 'registered';
-- Registering the same table again is harmless (one row).
SELECT tenant_backup.backup_register_table('app.audit', 'owner_tenant');
SELECT tbl, tenant_column, excluded FROM tenant_backup.registered_tables ORDER BY tbl::text;

-- Excluding a discovered table removes it from backups.
SELECT tenant_backup.backup_exclude_table('app.metrics');
SELECT table_name, source FROM tenant_backup.backup_tables();
SELECT tbl, tenant_column, excluded FROM tenant_backup.registered_tables ORDER BY tbl::text;
-- Re-registering it brings it back, now as a registered table.
SELECT tenant_backup.backup_register_table('app.metrics', 'tenant_id');
SELECT table_name, source FROM tenant_backup.backup_tables() WHERE table_name = 'app.metrics'::regclass;
-- Excluding a registered table keeps its column; registering again un-excludes it.
SELECT tenant_backup.backup_exclude_table('app.metrics');
SELECT tbl, tenant_column, excluded FROM tenant_backup.registered_tables ORDER BY tbl::text;
SELECT tenant_backup.backup_register_table('app.metrics', 'tenant_id');
SELECT tbl, tenant_column, excluded FROM tenant_backup.registered_tables ORDER BY tbl::text;

-- Registered tables are part of a backup whatever tenant_backup.tenant_column says.
SET tenant_backup.tenant_column = 'no_such_column';
SELECT * FROM tenant_backup.backup_tables();
RESET tenant_backup.tenant_column;

-- Excluding a table that is not a tenant table is harmless.
SELECT tenant_backup.backup_exclude_table('app.trigger_log');
SELECT count(*) AS tables FROM tenant_backup.backup_tables();

-- A failed registration leaves the previous one as it was.
\set VERBOSITY terse
SELECT tenant_backup.backup_register_table('app.audit', 'nope');
SELECT tenant_backup.backup_register_table('app.audit', NULL);
\set VERBOSITY default
SELECT tbl, tenant_column, excluded FROM tenant_backup.registered_tables WHERE tbl = 'app.audit'::regclass;

-- Round trip through the registered table: its rows are backed up under its own column.
SELECT tenant_backup.backup_create('1', 'with audit') AS bid \gset
SELECT t->>'name' AS name, t->>'tenant_column' AS tenant_column, (t->>'rows')::int AS rows
FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t WHERE b.id = :bid ORDER BY 1;
-- Damage and restore in a transaction that is rolled back at the end, so that the following
-- files find app.audit as 01_setup_and_tables left it, whatever happens here.
BEGIN;
CREATE TEMP TABLE audit_before AS SELECT * FROM app.tenant_rows(ARRAY[1]);
CREATE TEMP TABLE others_before AS SELECT * FROM app.tenant_rows(ARRAY[2, 3]);
UPDATE app.audit SET message = 'tampered' WHERE owner_tenant = 1 AND message = 'acme audit 1';
DELETE FROM app.audit WHERE owner_tenant = 1 AND message = 'acme audit 2';
INSERT INTO app.audit (owner_tenant, message) VALUES (1, 'new audit'), (1, 'newer audit');
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('audit_before', ARRAY[1]);
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);
SELECT owner_tenant, message FROM app.audit WHERE owner_tenant = 1 ORDER BY seq;
-- Its serial column keeps handing out new values.
INSERT INTO app.audit (owner_tenant, message) VALUES (1, 'after restore')
RETURNING seq > (SELECT max(seq) FROM app.audit) AS new_seq_is_largest;
ROLLBACK;

-- Clean up: the following files use discovery by "tenant_id" only.
DELETE FROM tenant_backup.registered_tables;
SELECT count(*) AS tables FROM tenant_backup.backup_tables();
