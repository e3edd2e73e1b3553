-- tenant_backup regression tests, part 9: encryption at rest, envelope keys, verification,
-- master key rotation and crypto-shredding. Master keys come from
-- tenant_backup.encryption_key_command here (key files are tested in test/t/006_key_file.pl).
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 9000) AS id_base \gset
\set key1 '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'
\set key2 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100'
-- the master key 01_setup_and_tables gave this database, which wraps earlier files' tenant keys
\set dbkey '5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e'
SET tenant_backup.tenant_column = 'vault_tenant';
SET tenant_backup.compression_level = 0; -- so that an unencrypted archive shows its plaintext
CREATE SCHEMA vault;
CREATE TABLE vault.secrets (vault_tenant int NOT NULL, id int PRIMARY KEY, note text NOT NULL);
CREATE INDEX ON vault.secrets (vault_tenant);
INSERT INTO vault.secrets SELECT 101 + g % 2, g, 'top secret note ' || g FROM generate_series(1, 400) g;
-- Snapshots for comparisons are temporary tables, which are never tenant tables.
CREATE TEMP TABLE original AS SELECT * FROM vault.secrets;

-- Archive bytes, and a way to replace them (keeping the catalog's checksum in step, so that the
-- archive's own authentication is what gets tested).
CREATE FUNCTION pg_temp.archive(bid bigint) RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_read_binary_file(location) FROM tenant_backup.backups WHERE id = bid $$;
CREATE FUNCTION pg_temp.replace_archive(bid bigint, bytes bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo oid := lo_from_bytea(0, bytes);
BEGIN
    PERFORM lo_export(lo, (SELECT location FROM tenant_backup.backups WHERE id = bid));
    PERFORM lo_unlink(lo);
    UPDATE tenant_backup.backups SET sha256 = encode(sha256(bytes), 'hex'), size_bytes = length(bytes)
    WHERE id = bid;
END $$;
CREATE FUNCTION pg_temp.same_as_original() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (SELECT * FROM vault.secrets EXCEPT SELECT * FROM original)
       AND NOT EXISTS (SELECT * FROM original EXCEPT SELECT * FROM vault.secrets) $$;

------------------------------------------------------------------------------------------------
-- No key configured: backups work, unencrypted, and say so.
------------------------------------------------------------------------------------------------
SET tenant_backup.encryption_key_command = '';
SELECT tenant_backup.backup_create('101') AS plain_bid \gset
SELECT encrypted, key_generation FROM tenant_backup.backups WHERE id = :plain_bid;
SELECT position('top secret note'::bytea IN pg_temp.archive(:plain_bid)) > 0 AS plaintext_visible;

------------------------------------------------------------------------------------------------
-- With a master key: an encrypted archive, a wrapped per-tenant key, no plaintext on disk.
------------------------------------------------------------------------------------------------
\set cmd1 'echo ' :key1
\set cmd2 'echo ' :key2
SELECT set_config('tenant_backup.encryption_key_command', :'cmd1', false) IS NOT NULL AS key1_set;
SELECT tenant_backup.backup_create('101', 'encrypted') AS enc_bid \gset
SELECT encrypted, key_generation IS NOT NULL AS has_generation FROM tenant_backup.backups WHERE id = :enc_bid;
SELECT tenant, length(wrapped_key) AS wrapped_bytes, master_key_id FROM tenant_backup.tenant_keys WHERE tenant LIKE '10_';
SELECT position('top secret note'::bytea IN pg_temp.archive(:enc_bid)) > 0 AS plaintext_visible;
-- The same tenant's next backup uses the same data key generation.
SELECT tenant_backup.backup_create('101') AS enc2_bid \gset
SELECT count(DISTINCT key_generation) AS generations FROM tenant_backup.backups WHERE id IN (:enc_bid, :enc2_bid);

-- Restore and verify.
UPDATE vault.secrets SET note = 'overwritten' WHERE vault_tenant = 101;
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT pg_temp.same_as_original() AS restored;
SELECT * FROM tenant_backup.backup_verify(:enc_bid);
SELECT verify_status, verify_error, verified_at IS NOT NULL AS verified FROM tenant_backup.backups WHERE id = :enc_bid;
-- An unencrypted backup restores and verifies as well, with a key configured.
SELECT ok, rows FROM tenant_backup.backup_verify(:plain_bid);

------------------------------------------------------------------------------------------------
-- Missing or wrong keys are refused with errors that say what is missing; nothing changes.
------------------------------------------------------------------------------------------------
UPDATE vault.secrets SET note = 'overwritten' WHERE vault_tenant = 101 AND id < 10;
CREATE TEMP TABLE damaged AS SELECT * FROM vault.secrets;
SET tenant_backup.encryption_key_command = '';
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT set_config('tenant_backup.encryption_key_command', :'cmd2', false) IS NOT NULL AS key2_set;
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT NOT EXISTS (SELECT * FROM vault.secrets EXCEPT SELECT * FROM damaged) AS unchanged;
-- Key sources that fail or print something that is not a key.
SET tenant_backup.encryption_key_command = 'exit 3';
SELECT tenant_backup.backup_create('101');
SET tenant_backup.encryption_key_command = 'echo not-a-key';
SELECT tenant_backup.backup_create('101');

------------------------------------------------------------------------------------------------
-- Rotation: the new key first, the old ones after it; tenant keys are re-wrapped, archives are
-- not rewritten, and old backups stay readable with the new key alone.
------------------------------------------------------------------------------------------------
\set both 'printf ''%s\n%s\n%s\n'' ' :key2 ' ' :key1 ' ' :dbkey
SELECT set_config('tenant_backup.encryption_key_command', :'both', false) IS NOT NULL AS both_set;
SELECT sha256 AS sha_before FROM tenant_backup.backups WHERE id = :enc_bid \gset
SELECT count(*) AS keys_to_rewrap FROM tenant_backup.tenant_keys \gset
-- (Its NOTICE counts the records it re-sealed in the repository, issue 18: TAP 052 tests those.)
SET client_min_messages = warning;
SELECT tenant_backup.backup_rotate_master_key() = :keys_to_rewrap AS all_rewrapped;
SELECT tenant_backup.backup_rotate_master_key() AS rewrapped_again;
RESET client_min_messages;
SELECT set_config('tenant_backup.encryption_key_command', :'cmd2', false) IS NOT NULL AS key2_only;
SELECT master_key_id, bool_and(rotated_at IS NOT NULL) AS rotated, count(*) = :keys_to_rewrap AS all_keys
FROM tenant_backup.tenant_keys GROUP BY master_key_id;
SELECT sha256 = :'sha_before' AS archive_untouched FROM tenant_backup.backups WHERE id = :enc_bid;
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT pg_temp.same_as_original() AS restored_after_rotation;
SELECT tenant_backup.backup_create('102') AS t2_bid \gset
SELECT ok, tables, rows FROM tenant_backup.backup_verify(:t2_bid);
-- Rotating while a tenant key's master key is not configured changes nothing.
SELECT set_config('tenant_backup.encryption_key_command', :'cmd1', false) IS NOT NULL AS key1_only;
SELECT tenant_backup.backup_rotate_master_key();

------------------------------------------------------------------------------------------------
-- Tampering: a flipped bit, a truncated archive, another backup's archive. Each is refused by
-- the archive's own authentication (the catalog checksum is kept in step on purpose).
------------------------------------------------------------------------------------------------
SELECT set_config('tenant_backup.encryption_key_command', :'cmd2', false) IS NOT NULL AS key2_set;
SELECT pg_temp.archive(:enc_bid) AS good_archive \gset
SELECT pg_temp.replace_archive(:enc_bid, set_byte(:'good_archive'::bytea, 200, get_byte(:'good_archive'::bytea, 200) # 1));
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT ok, tables, rows, error FROM tenant_backup.backup_verify(:enc_bid);
SELECT verify_status FROM tenant_backup.backups WHERE id = :enc_bid;
SELECT pg_temp.replace_archive(:enc_bid, substr(:'good_archive'::bytea, 1, length(:'good_archive'::bytea) - 30));
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT pg_temp.replace_archive(:enc_bid, pg_temp.archive(:enc2_bid));
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT pg_temp.replace_archive(:enc_bid, :'good_archive'::bytea);
SELECT ok FROM tenant_backup.backup_verify(:enc_bid);

------------------------------------------------------------------------------------------------
-- Forgetting a tenant destroys its keys: a copy of its archive kept elsewhere cannot be
-- decrypted any more, even with the master key.
------------------------------------------------------------------------------------------------
CREATE TEMP TABLE copy_row AS SELECT * FROM tenant_backup.backups WHERE id = :enc_bid;
CREATE TEMP TABLE copy_bytes AS SELECT pg_temp.archive(:enc_bid) AS bytes;
SELECT tenant_backup.backup_forget_tenant('101');
SELECT count(*) AS keys_left FROM tenant_backup.tenant_keys WHERE tenant = '101';
SELECT count(*) AS backups_left FROM tenant_backup.backups WHERE tenant = '101';
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
-- Bring the copy back as if it had been kept off-site: still undecryptable.
INSERT INTO tenant_backup.backups SELECT * FROM copy_row;
SELECT pg_temp.replace_archive(:enc_bid, (SELECT bytes FROM copy_bytes));
SELECT * FROM tenant_backup.backup_restore(:enc_bid);
SELECT ok, error FROM tenant_backup.backup_verify(:enc_bid);
SELECT tenant_backup.backup_delete(:enc_bid);
-- Tenant 101 had one unencrypted backup, and the message above says so; tenant 102's were all
-- encrypted.
SELECT tenant_backup.backup_forget_tenant('102');
-- A tenant with nothing to forget.
SELECT tenant_backup.backup_forget_tenant('nobody');
SELECT tenant_backup.backup_forget_tenant(NULL);

------------------------------------------------------------------------------------------------
-- Key settings are superuser-only and hidden from other roles.
------------------------------------------------------------------------------------------------
CREATE ROLE tb_app_user;
SET ROLE tb_app_user;
SET tenant_backup.encryption_key_command = 'echo x';
SHOW tenant_backup.encryption_key_command;
RESET ROLE;
DROP ROLE tb_app_user;
RESET tenant_backup.encryption_key_command;
RESET tenant_backup.compression_level;
RESET tenant_backup.tenant_column;
