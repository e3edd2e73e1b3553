-- tenant_backup regression tests, part 19 (issue 19.9): without an encryption key, what
-- tenant_backup.unencrypted_backups says: warn (default) once per session, and only about a
-- backup that exists; allow (unencrypted on purpose) says nothing; refuse refuses backups and
-- imports. backup_schedule_set says it where it helps. The setting is superuser-only.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 19500) AS id_base \gset
SET tenant_backup.tenant_column = 'ep_tenant';
SET client_min_messages = warning;
SET log_min_error_statement = panic;
SET tenant_backup.encryption_key_command = ''; -- the database's key (01_setup_and_tables) is off here
LOAD 'tenant_backup';
SHOW tenant_backup.unencrypted_backups;
CREATE SCHEMA ep;
CREATE TABLE ep.notes (ep_tenant int NOT NULL, id int PRIMARY KEY, body text);
CREATE INDEX ON ep.notes (ep_tenant);
INSERT INTO ep.notes VALUES (1951, 1, 'a'), (1952, 2, 'b');
SET tenant_backup.unencrypted_backups = 'allow';
SELECT tenant_backup.backup_create('1951') - :id_base AS setup_backup; -- silent
SELECT string_agg(line || E'\n', '' ORDER BY n) AS doc
FROM tenant_backup.backup_download(:id_base + 1) WITH ORDINALITY AS d(line, n) \gset
RESET tenant_backup.unencrypted_backups;

-- warn: an import that fails after its archive was started warns about nothing ...
ALTER TABLE ep.notes ADD COLUMN extra text NOT NULL DEFAULT '';
ALTER TABLE ep.notes ALTER COLUMN extra DROP DEFAULT;
SELECT tenant_backup.backup_import(:'doc');
ALTER TABLE ep.notes DROP COLUMN extra;
-- ... the first backup that exists does, once; the next backups and imports of the session do not.
SELECT tenant_backup.backup_create('1951') - :id_base AS first_backup;
SELECT tenant_backup.backup_create('1952') - :id_base AS second_backup;
SELECT tenant_backup.backup_import(:'doc') - :id_base AS imported;
SELECT tenant_backup.backup_schedule_set('1951', '0 2 * * *');
SELECT count(*) AS unencrypted FROM tenant_backup.backups WHERE id > :id_base AND NOT encrypted;

-- A new session that sets a schedule is told there, once, and not again by its backups.
\c
SET tenant_backup.tenant_column = 'ep_tenant';
SET tenant_backup.encryption_key_command = '';
SET client_min_messages = warning;
SELECT tenant_backup.backup_schedule_set('1952', '0 3 * * *');
SELECT tenant_backup.backup_schedule_set('1952', '0 4 * * *');
SELECT tenant_backup.backup_create('1952') - :id_base AS third_backup;

-- refuse: no backup and no import without a key, nothing left behind; a schedule set is warned.
SET tenant_backup.unencrypted_backups = 'refuse';
SELECT count(*) AS backups_before FROM tenant_backup.backups \gset
SELECT tenant_backup.backup_create('1951');
SELECT tenant_backup.backup_import(:'doc');
SELECT tenant_backup.backup_schedule_set('1951', '0 5 * * *');
SELECT count(*) - :backups_before AS new_backups FROM tenant_backup.backups;
-- With a key, refuse has nothing to refuse.
RESET tenant_backup.encryption_key_command; -- the database's key
SELECT current_setting('tenant_backup.encryption_key_command') <> '' AS key_set;
SELECT tenant_backup.backup_create('1951') AS encrypted_bid \gset
SELECT encrypted FROM tenant_backup.backups WHERE id = :encrypted_bid;
SET tenant_backup.encryption_key_command = '';

-- allow: unencrypted on purpose, nothing said.
SET tenant_backup.unencrypted_backups = 'allow';
SELECT tenant_backup.backup_schedule_set('1951', '0 6 * * *');
SELECT tenant_backup.backup_create('1951') > :encrypted_bid AS quiet_backup;

-- Only superusers change it: a session cannot lift a refusal.
RESET tenant_backup.unencrypted_backups;
CREATE ROLE ep_user;
SET ROLE ep_user;
SET tenant_backup.unencrypted_backups = 'allow';
RESET ROLE;
DROP ROLE ep_user;
SET tenant_backup.unencrypted_backups = 'sometimes';
DELETE FROM tenant_backup.schedules;
