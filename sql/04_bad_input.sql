-- tenant_backup regression tests, part 4: bad input. Every call fails with a clear error and
-- changes nothing: no catalog row, no archive, the tenants' rows as they were.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
-- Backup ids printed in this file start at 4001, whatever ran before.
SELECT setval('tenant_backup.backups_id_seq', 4000) AS id_base \gset

-- Runs a statement and returns its error as "SQLSTATE: message", the data directory replaced by
-- <datadir> (error messages about archives name the file).
CREATE FUNCTION pg_temp.error_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || replace(SQLERRM, current_setting('data_directory'), '<datadir>');
END
$$;

-- A good backup of tenant 1, then a change that a restore would undo: after each failed
-- restore below, tenant 1 must still have the change.
SELECT tenant_backup.backup_create('1', 'good') AS bid \gset
UPDATE app.customers SET email = 'changed@acme.example' WHERE tenant_id = 1 AND name = 'Bob';
CREATE TABLE all_before AS SELECT * FROM app.tenant_rows(ARRAY[1, 2, 3, 4]);
CREATE TABLE others_before AS SELECT * FROM app.tenant_rows(ARRAY[2, 3, 4]);
SELECT count(*) AS catalog_before FROM tenant_backup.backups \gset
SELECT regexp_replace(location, '/[^/]*$', '') AS repo_dir FROM tenant_backup.backups WHERE id = :bid \gset
SELECT count(*) AS files_before FROM pg_ls_dir(:'repo_dir') \gset

------------------------------------------------------------------------------------------------
-- backup_create: tenant and label.
------------------------------------------------------------------------------------------------
SELECT tenant_backup.backup_create(NULL);
SELECT tenant_backup.backup_create(NULL, 'label');
SELECT tenant_backup.backup_create('');
SELECT tenant_backup.backup_create(repeat('x', 1025));
-- The limits are in bytes: 513 two-byte characters are too many.
SELECT tenant_backup.backup_create(repeat('é', 513));
SELECT tenant_backup.backup_create('1', repeat('l', 1025));
SELECT tenant_backup.backup_create('1', repeat('é', 513));
-- A tenant value that does not cast to a tenant column's type (the first table, by name, that
-- it does not fit is named; the cast's own error is the detail).
SELECT tenant_backup.backup_create('abc');
SELECT tenant_backup.backup_create('99999999999');
SELECT tenant_backup.backup_create('1.5', 'not an integer');
-- Nothing was recorded or written.
SELECT count(*) - :catalog_before AS new_catalog_rows FROM tenant_backup.backups;
SELECT count(*) - :files_before AS new_files FROM pg_ls_dir(:'repo_dir');
-- The longest label is fine.
SELECT tenant_backup.backup_create('1', repeat('l', 1024)) AS bid_long \gset
SELECT length(label) FROM tenant_backup.backups WHERE id = :bid_long;
SELECT tenant_backup.backup_delete(:bid_long);

------------------------------------------------------------------------------------------------
-- backup_restore and backup_delete: NULL and unknown ids.
------------------------------------------------------------------------------------------------
SELECT * FROM tenant_backup.backup_restore(NULL);
SELECT tenant_backup.backup_delete(NULL);
SELECT * FROM tenant_backup.backup_restore(0);
SELECT tenant_backup.backup_delete(987654321);

------------------------------------------------------------------------------------------------
-- Backups that are not completed: running and failed (catalog rows made by hand).
------------------------------------------------------------------------------------------------
INSERT INTO tenant_backup.backups (tenant, status) VALUES ('1', 'running') RETURNING id - :id_base AS n \gset running_
INSERT INTO tenant_backup.backups (tenant, status, error) VALUES ('1', 'failed', 'disk full')
RETURNING id - :id_base AS n \gset failed_
SELECT :id_base + :running_n AS running_id, :id_base + :failed_n AS failed_id \gset
SELECT * FROM tenant_backup.backup_restore(:running_id);
SELECT tenant_backup.backup_delete(:running_id);
SELECT * FROM tenant_backup.backup_restore(:failed_id);
-- The list shows them; a failed backup can be deleted (it has no archive).
SELECT id - :id_base AS n, status, error FROM tenant_backup.backup_list('1') WHERE id > :id_base;
SELECT tenant_backup.backup_delete(:failed_id);
SELECT count(*) AS failed_left FROM tenant_backup.backups WHERE id = :failed_id;
DELETE FROM tenant_backup.backups WHERE id = :running_id;

------------------------------------------------------------------------------------------------
-- Archives that are missing or damaged. Each case is a copy of the good backup's catalog row,
-- altered; the restore reads the archive before changing anything.
------------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.copy_of(src bigint, what text) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO tenant_backup.backups (tenant, label, status, tables, row_count, size_bytes, sha256,
                                       compression, object_name, location)
    SELECT tenant, what, status, tables, row_count, size_bytes, sha256, compression, object_name, location
    FROM tenant_backup.backups WHERE id = src
    RETURNING id
$$;

-- The archive is missing.
SELECT pg_temp.copy_of(:bid, 'missing') AS bid_missing \gset
UPDATE tenant_backup.backups SET object_name = '0/0/999-0000000000000000.tbk' WHERE id = :bid_missing;
SELECT pg_temp.error_of(format('SELECT * FROM tenant_backup.backup_restore(%s)', :bid_missing)) AS error;

-- The catalog's SHA-256, or size, does not match the archive.
SELECT pg_temp.copy_of(:bid, 'bad sha') AS bid_sha \gset
UPDATE tenant_backup.backups SET sha256 = repeat('0', 64) WHERE id = :bid_sha;
\set VERBOSITY terse
SELECT * FROM tenant_backup.backup_restore(:bid_sha);
\set VERBOSITY default
SELECT pg_temp.copy_of(:bid, 'bad size') AS bid_size \gset
UPDATE tenant_backup.backups SET size_bytes = size_bytes + 1 WHERE id = :bid_size;
\set VERBOSITY terse
SELECT * FROM tenant_backup.backup_restore(:bid_size);
\set VERBOSITY default

-- An object name that leaves the repository is refused.
SELECT pg_temp.copy_of(:bid, 'escape') AS bid_escape \gset
UPDATE tenant_backup.backups SET object_name = '../../../postgresql.conf' WHERE id = :bid_escape;
SELECT * FROM tenant_backup.backup_restore(:bid_escape);

-- The archive of another tenant under this tenant's catalog row.
SELECT tenant_backup.backup_create('3', 'of tenant 3') AS bid_3 \gset
SELECT pg_temp.copy_of(:bid_3, 'swapped') AS bid_swapped \gset
UPDATE tenant_backup.backups SET tenant = '1' WHERE id = :bid_swapped;
SELECT * FROM tenant_backup.backup_restore(:bid_swapped);

-- Archives whose catalog row matches them but whose content is not a valid archive: written
-- over the backup's own archive by the server (lo_export), their SHA-256 and size put into the
-- catalog, so that what refuses them is the archive's own framing and authentication.
CREATE FUNCTION pg_temp.forge(bid bigint, content bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo oid := lo_from_bytea(0, content);
BEGIN
    PERFORM lo_export(lo, (SELECT location FROM tenant_backup.backups b WHERE b.id = bid));
    PERFORM lo_unlink(lo);
    UPDATE tenant_backup.backups b SET sha256 = encode(sha256(content), 'hex'), size_bytes = length(content)
    WHERE b.id = bid;
END
$$;
SELECT location AS good_location FROM tenant_backup.backups WHERE id = :bid \gset
SELECT pg_read_binary_file(:'good_location') AS good_bytes \gset
-- not an archive at all
SELECT pg_temp.forge(:bid, 'this is not an archive');
SELECT * FROM tenant_backup.backup_restore(:bid);
-- truncated: without its last 10 bytes (the footer), without its last 40 (into the last chunk),
-- and only its first 100 bytes
SELECT pg_temp.forge(:bid, substring(:'good_bytes'::bytea for length(:'good_bytes'::bytea) - 10));
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT pg_temp.forge(:bid, substring(:'good_bytes'::bytea for length(:'good_bytes'::bytea) - 40));
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT pg_temp.forge(:bid, substring(:'good_bytes'::bytea for 100));
SELECT * FROM tenant_backup.backup_restore(:bid);
-- a byte after the end
SELECT pg_temp.forge(:bid, :'good_bytes'::bytea || '\x00'::bytea);
SELECT * FROM tenant_backup.backup_restore(:bid);
-- an unknown format version, an unknown flag
SELECT pg_temp.forge(:bid, set_byte(:'good_bytes'::bytea, 8, 3));
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT pg_temp.forge(:bid, set_byte(:'good_bytes'::bytea, 10, 7));
SELECT * FROM tenant_backup.backup_restore(:bid);
-- one flipped bit in the first chunk's data
SELECT pg_temp.forge(:bid, set_byte(:'good_bytes'::bytea, 80, get_byte(:'good_bytes'::bytea, 80) # 16));
SELECT * FROM tenant_backup.backup_restore(:bid);
-- The same for an unencrypted, uncompressed archive: its chunks carry integrity tags.
SET tenant_backup.compression_level = 0;
SET tenant_backup.encryption_key_command = '';
SELECT tenant_backup.backup_create('1', 'uncompressed') AS bid_raw \gset
RESET tenant_backup.compression_level;
RESET tenant_backup.encryption_key_command;
SELECT location AS raw_location FROM tenant_backup.backups WHERE id = :bid_raw \gset
SELECT pg_read_binary_file(:'raw_location') AS raw_bytes \gset
SELECT pg_temp.forge(:bid_raw, substring(:'raw_bytes'::bytea for length(:'raw_bytes'::bytea) - 10));
SELECT * FROM tenant_backup.backup_restore(:bid_raw);
SELECT pg_temp.forge(:bid_raw, :'raw_bytes'::bytea || '\x00'::bytea);
SELECT * FROM tenant_backup.backup_restore(:bid_raw);
-- the first record's type byte (in the first chunk, after the 64-byte header and the 5-byte
-- chunk header) changed: the chunk's integrity tag no longer matches
SELECT pg_temp.forge(:bid_raw, set_byte(:'raw_bytes'::bytea, 69, ascii('Z')));
SELECT * FROM tenant_backup.backup_restore(:bid_raw);
-- Put the good archives back.
SELECT pg_temp.forge(:bid, :'good_bytes'::bytea);
SELECT pg_temp.forge(:bid_raw, :'raw_bytes'::bytea);

-- After all these failed restores, every tenant is exactly as before; the good backup still works.
SELECT * FROM app.diff('all_before', ARRAY[1, 2, 3, 4]);
SELECT email FROM app.customers WHERE tenant_id = 1 AND name = 'Bob';
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT email FROM app.customers WHERE tenant_id = 1 AND name = 'Bob';

-- Clean up the hand-made catalog rows. The copies share the good archive: remove their rows
-- directly, so that the archive stays.
DELETE FROM tenant_backup.backups
WHERE id IN (:bid_missing, :bid_sha, :bid_size, :bid_escape, :bid_swapped);
SELECT tenant_backup.backup_delete(:bid_raw);

------------------------------------------------------------------------------------------------
-- Settings.
------------------------------------------------------------------------------------------------
SET tenant_backup.compression_level = 20;
SET tenant_backup.compression_level = -1;
SET tenant_backup.repository = '';

------------------------------------------------------------------------------------------------
-- A role without backup permissions (test 13 covers them all) gets nothing done, and sees no
-- backups; table registration stays with superusers and the extension's owner.
------------------------------------------------------------------------------------------------
CREATE ROLE regress_tenant_backup_user;
SELECT 'app.audit'::regclass::oid AS audit_oid \gset
SET ROLE regress_tenant_backup_user;
SELECT tenant_backup.backup_create('1');
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT tenant_backup.backup_delete(:bid);
SELECT * FROM tenant_backup.backup_list();
SELECT count(*) FROM tenant_backup.backups;
SELECT tenant_backup.backup_register_table(:'audit_oid', 'owner_tenant');
RESET ROLE;
DROP ROLE regress_tenant_backup_user;
SELECT status FROM tenant_backup.backups WHERE id = :bid;
SELECT count(*) AS registered FROM tenant_backup.registered_tables;

SELECT * FROM app.diff('others_before', ARRAY[2, 3, 4]);
DROP TABLE all_before, others_before;
