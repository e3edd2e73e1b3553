-- Issue 18: DROP OWNED BY a role that owns tenant_backup drops the extension, and with it the
-- catalog and every tenant key: the drop guard (the event trigger of DROP EXTENSION and DROP
-- SCHEMA) refuses it the same way, unless tenant_backup.drop_confirmed is on. DROP OWNED BY a role
-- that owns nothing of ours runs as before. (Each attempt is in a transaction rolled back.)
-- (Unencrypted: after 09_encryption's rotation the database's key no longer opens tenant 1's.)
SET tenant_backup.encryption_key_command = '';
SET tenant_backup.unencrypted_backups = 'allow';
SELECT tenant_backup.backup_create('1', 'drop owned guard') > 0 AS backed_up;
RESET tenant_backup.unencrypted_backups;
RESET tenant_backup.encryption_key_command;
CREATE ROLE tb_bystander;
CREATE TABLE public.bystander_table (id int);
ALTER TABLE public.bystander_table OWNER TO tb_bystander;
BEGIN;
DROP OWNED BY tb_bystander;
SELECT count(*) AS bystander_tables FROM pg_class WHERE relname = 'bystander_table';
ROLLBACK;

-- The extension's owner (here the bootstrap superuser): the guard speaks first, saying what
-- would be destroyed (counts and the role's name masked), also with other roles and CASCADE.
CREATE FUNCTION pg_temp.try_drop_owned(roles text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'DROP OWNED BY ' || roles;
    RETURN 'dropped';
EXCEPTION WHEN OTHERS THEN
    RETURN regexp_replace(replace(SQLERRM, quote_ident(current_user), 'OWNER'), '[0-9]+', 'N', 'g');
END $$;
BEGIN;
SELECT pg_temp.try_drop_owned(quote_ident(current_user));
ROLLBACK;
BEGIN;
SELECT pg_temp.try_drop_owned('tb_bystander, ' || quote_ident(current_user) || ' CASCADE');
ROLLBACK;
-- With the confirmation the guard steps aside (and PostgreSQL refuses the bootstrap superuser's
-- DROP OWNED itself).
BEGIN;
SET LOCAL tenant_backup.drop_confirmed = on;
SELECT pg_temp.try_drop_owned(quote_ident(current_user));
ROLLBACK;
SELECT count(*) AS extension_still_there FROM pg_extension WHERE extname = 'tenant_backup';
DROP TABLE public.bystander_table;
DROP ROLE tb_bystander;
