-- Issue 18 (the remaining gaps): backup_repository_alter moves a repository (its URL, options or
-- read_only) in place; refusals like its siblings', audited; a new URL without the copies warns;
-- DROP SCHEMA tenant_backup's refusal names the statement run.
SET client_min_messages = warning; -- (the suite created it already; alone, this creates it)
CREATE EXTENSION IF NOT EXISTS tenant_backup;
RESET client_min_messages;
SET tenant_backup.tenant_column = 'ra_tenant';
CREATE SCHEMA ra;
CREATE TABLE ra.items (ra_tenant int NOT NULL, id serial PRIMARY KEY, name text);
CREATE INDEX ON ra.items (ra_tenant);
INSERT INTO ra.items (ra_tenant, name) SELECT 3601, 'item ' || g FROM generate_series(1, 20) g;
CREATE ROLE ra_role;
SELECT current_setting('data_directory') || '/ra_one' AS one, current_setting('data_directory') || '/ra_two' AS two
\gset
SELECT coalesce(max(id), 0) AS audit_base FROM tenant_backup.backup_audit \gset

-- Refusals: the built-in repository, one that does not exist, a bad URL, a credential as an
-- option, a non-superuser.
SELECT tenant_backup.backup_repository_alter('local', url => 'file:///elsewhere');
SELECT tenant_backup.backup_repository_alter('ra_none', url => 'file:///elsewhere');
SELECT tenant_backup.backup_repository_add('ra_repo', 'file://' || :'one');
SELECT tenant_backup.backup_repository_alter('ra_repo', url => 'ftp://example.com/x');
SELECT tenant_backup.backup_repository_alter('ra_repo', url => 's3://bucket/p', options => '{"secret_access_key": "hunter2"}');
SELECT tenant_backup.backup_repository_alter('ra_repo', options => '{"region": "eu-west-1"}'); -- a file:// repository takes none
SELECT tenant_backup.backup_repository_alter('ra_repo', options => '[1]');
SET ROLE ra_role;
SELECT tenant_backup.backup_repository_alter('ra_repo', read_only => true);
RESET ROLE;
SELECT replace(url, :'one', 'ONE') AS url, options FROM tenant_backup.backup_repositories() WHERE name = 'ra_repo';

-- read_only alone; options replaced whole keep read_only unless given; read_only => false.
SELECT tenant_backup.backup_repository_alter('ra_repo', read_only => true);
SELECT options FROM tenant_backup.backup_repositories() WHERE name = 'ra_repo';
SELECT tenant_backup.backup_repository_alter('ra_repo', options => '{}');
SELECT options FROM tenant_backup.backup_repositories() WHERE name = 'ra_repo';
SELECT tenant_backup.backup_repository_alter('ra_repo', read_only => false);
SELECT options FROM tenant_backup.backup_repositories() WHERE name = 'ra_repo';

-- A backup with a copy there; the URL changed to an empty directory warns that the copy is not
-- there (and changes it all the same); changed back, the copy is found again.
SET tenant_backup.unencrypted_backups = 'allow';
SET tenant_backup.encryption_key_command = '';
SET tenant_backup.repositories = 'local, ra_repo';
SELECT tenant_backup.backup_create('3601', 'regression 36') AS bid \gset
RESET tenant_backup.repositories;
SELECT repository, state FROM tenant_backup.backup_copies WHERE backup_id = :bid ORDER BY repository;
\set VERBOSITY terse
SELECT tenant_backup.backup_repository_alter('ra_repo', url => 'file://' || :'two');
\set VERBOSITY default
SELECT location = :'two' || '/' || object_name AS at_two FROM tenant_backup.backup_copies WHERE backup_id = :bid AND repository = 'ra_repo';
SELECT tenant_backup.backup_repository_alter('ra_repo', url => 'file://' || :'one');
SELECT location = :'one' || '/' || object_name AS at_one FROM tenant_backup.backup_copies WHERE backup_id = :bid AND repository = 'ra_repo';
SELECT ok FROM tenant_backup.backup_verify(:bid);

-- Audited: one row per call above (the refused ones failed or denied).
\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
SELECT pg_temp.audited(format($$SELECT count(*) = 12 FROM tenant_backup.backup_audit WHERE id > %s AND action = 'repository_alter'$$, :audit_base));
SELECT outcome, count(*) FROM tenant_backup.backup_audit WHERE id > :audit_base AND action = 'repository_alter'
GROUP BY outcome ORDER BY outcome;

-- DROP SCHEMA tenant_backup CASCADE names the statement run (counts masked).
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'done';
EXCEPTION WHEN OTHERS THEN
    RETURN regexp_replace(SQLERRM, '[0-9]+', 'N', 'g');
END $$;
BEGIN;
SELECT pg_temp.try('DROP SCHEMA tenant_backup CASCADE');
ROLLBACK;
BEGIN;
SELECT pg_temp.try('DROP EXTENSION tenant_backup');
ROLLBACK;

SELECT tenant_backup.backup_delete(:bid);
SELECT tenant_backup.backup_repository_remove('ra_repo');
RESET tenant_backup.unencrypted_backups;
RESET tenant_backup.encryption_key_command;
DROP SCHEMA ra CASCADE;
DROP ROLE ra_role;
