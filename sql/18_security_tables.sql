-- tenant_backup regression tests, part 18: security of discovery and of the statements we run
-- (issue 14, findings 1-3). Each attack is mounted by an unprivileged role that can create
-- tables, types, casts and operators; a superuser then calls our functions (the scheduler's
-- discovery runs the same code as backup_schedules()). Nothing of the attacker's may run with
-- the superuser's rights, its tables never join backups unless a superuser says so, and one bad
-- table never fails everyone's backups.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 18000) AS id_base \gset
SET tenant_backup.tenant_column = 'sd_tenant';
SET log_min_error_statement = panic;
CREATE ROLE sd_attacker;
CREATE SCHEMA sd;
-- What the attacker's functions record when they run: who ran them, and as superuser or not.
CREATE TABLE sd.pwned (who text, was_superuser boolean, via text);
GRANT INSERT, SELECT ON sd.pwned TO PUBLIC;
-- A database created before PostgreSQL 15: everyone may create objects in public.
GRANT CREATE ON SCHEMA public TO sd_attacker;
GRANT USAGE, CREATE ON SCHEMA sd TO sd_attacker;

-- The tenant's real data, owned by the superuser: a varchar tenant column.
CREATE TABLE sd.accounts (sd_tenant varchar(20) NOT NULL, id int PRIMARY KEY, name text);
CREATE INDEX ON sd.accounts (sd_tenant);
INSERT INTO sd.accounts VALUES ('acme', 1, 'Acme'), ('globex', 2, 'Globex');

SET ROLE sd_attacker;
CREATE FUNCTION public.sd_record(via text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sd.pwned VALUES (current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), via);
    BEGIN
        ALTER ROLE sd_attacker SUPERUSER;
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN true;
END
$$;

------------------------------------------------------------------------------------------------
-- Finding 1: a tenant column of the attacker's own type, with a cast to text that runs its
-- function. 0.1.0's discovery read it with ::text as superuser.
------------------------------------------------------------------------------------------------
CREATE TYPE sd.evil AS (v int);
CREATE FUNCTION sd.evil_text(sd.evil) RETURNS text LANGUAGE sql AS $$ SELECT public.sd_record('cast')::text $$;
CREATE CAST (sd.evil AS text) WITH FUNCTION sd.evil_text(sd.evil);
CREATE TABLE sd.evil_table (sd_tenant sd.evil);
INSERT INTO sd.evil_table VALUES (ROW(1));

------------------------------------------------------------------------------------------------
-- Finding 2: an operator in public that matches `varchar = varchar` before pg_catalog's
-- text = text (which needs a cast), and a public.format() that shadows pg_catalog.format for the
-- argument types 0.1.0's registry query used.
------------------------------------------------------------------------------------------------
CREATE FUNCTION public.sd_eq(varchar, varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT public.sd_record('operator') $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.sd_eq);
CREATE OPERATOR public.> (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.sd_eq);
CREATE FUNCTION public.format(text, text, regclass) RETURNS text LANGUAGE sql
    AS $$ SELECT 'SELECT public.sd_record(''format'')::text' $$;

------------------------------------------------------------------------------------------------
-- Finding 3: the attacker's own table with the tenant column, an ALWAYS trigger and rows that
-- claim to be acme's.
------------------------------------------------------------------------------------------------
CREATE TABLE sd.planted (sd_tenant varchar(20), secret text);
INSERT INTO sd.planted VALUES ('acme', 'planted row');
CREATE FUNCTION sd.planted_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.sd_record('trigger'); RETURN NULL; END $$;
CREATE TRIGGER planted_always AFTER INSERT OR DELETE ON sd.planted FOR EACH ROW EXECUTE FUNCTION sd.planted_trigger();
ALTER TABLE sd.planted ENABLE ALWAYS TRIGGER planted_always;
RESET ROLE;

-- The attacker's objects are where a superuser's unqualified lookups would find them.
SET search_path = public, sd;

-- Only the superuser's table is a tenant table; the others are gaps, with the reason.
SELECT table_name, tenant_column, tenant_type, source FROM tenant_backup.backup_tables() ORDER BY 1::text;
SELECT table_name, reason FROM tenant_backup.backup_table_gaps() ORDER BY 1::text;

-- Discovery as a superuser (what the scheduler runs at start-up and every ten minutes).
SELECT tenant FROM tenant_backup.backup_schedules() ORDER BY tenant;
-- ... and with a tenant registry, the table the setting names (the setting's name is resolved in
-- C++: no format() is looked up).
CREATE TABLE sd.registry (sd_tenant varchar(20) PRIMARY KEY);
INSERT INTO sd.registry VALUES ('acme'), ('globex'), ('initech');
SELECT tenant_backup.backup_exclude_table('sd.registry'); -- a list of tenants, not tenant data
SET tenant_backup.tenant_registry = 'sd.registry';
SELECT tenant FROM tenant_backup.backup_schedules() ORDER BY tenant;
-- An unqualified registry name means public.<name>, whoever's search_path.
SET tenant_backup.tenant_registry = 'registry';
SELECT count(*) FROM tenant_backup.backup_schedules();
RESET tenant_backup.tenant_registry;

-- A superuser's backup: the varchar tenant column is compared with pg_catalog's operator, the
-- planted table is left out with a WARNING that names it, the evil type's table too.
SELECT tenant_backup.backup_create('acme', 'sd') AS bid \gset
SELECT t->>'name' AS name, (t->>'rows')::int AS rows
FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t WHERE b.id = :bid ORDER BY 1;
-- The download of acme holds acme's account, not the planted row.
SELECT count(*) FILTER (WHERE line LIKE '%planted row%') AS planted, count(*) FILTER (WHERE line LIKE '%Acme%') AS acme
FROM tenant_backup.backup_download(:bid) AS line;
-- A superuser's restore of acme: the planted table's ALWAYS trigger does not fire (not a tenant table).
SELECT table_name, rows_removed, rows_restored FROM tenant_backup.backup_restore(:bid);

-- Nothing of the attacker's ran, as anyone; the attacker is not a superuser.
SELECT * FROM sd.pwned;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sd_attacker';

-- A superuser may vouch for the attacker's tables: then they are tenant tables, in the open.
SET tenant_backup.table_owners = 'sd_attacker';
SELECT table_name, source FROM tenant_backup.backup_tables() ORDER BY 1::text;
SELECT table_name, reason FROM tenant_backup.backup_table_gaps() ORDER BY 1::text;
RESET tenant_backup.table_owners;
-- Only a superuser may change that setting.
SET ROLE sd_attacker;
SET tenant_backup.table_owners = 'sd_attacker';
RESET ROLE;

-- One table with an unsupported tenant type fails no one: it is a gap, the backup goes on.
CREATE TABLE sd.amounts (sd_tenant numeric, v int);
SELECT tenant_backup.backup_create('globex') IS NOT NULL AS backed_up;
SELECT table_name, reason FROM tenant_backup.backup_table_gaps() ORDER BY 1::text;
-- Excluding a table is how to say it holds no tenant data: it is no longer a gap.
SELECT tenant_backup.backup_exclude_table('sd.amounts');
SELECT tenant_backup.backup_exclude_table('sd.planted');
SELECT tenant_backup.backup_exclude_table('sd.evil_table');
SELECT count(*) AS gaps FROM tenant_backup.backup_table_gaps();
SELECT * FROM sd.pwned;

-- Finding 9, beyond tenant values: a download renders rows with row_to_json, which calls a
-- type's cast to json; an import parses rows with json_populate_record, which runs a domain's
-- CHECK. Both are code of the type's owner: for a superuser caller it runs as that owner (the
-- cast's author, the table's owner), never as the superuser.
SET ROLE sd_attacker;
CREATE TYPE sd.mood AS ENUM ('sad', 'happy');
CREATE FUNCTION sd.mood_json(m sd.mood) RETURNS json LANGUAGE sql
    AS $$ SELECT CASE WHEN public.sd_record('json cast') THEN to_json(m::text) END $$;
CREATE CAST (sd.mood AS json) WITH FUNCTION sd.mood_json(sd.mood);
CREATE DOMAIN sd.checked AS int CHECK (public.sd_record('domain check'));
RESET ROLE;
CREATE ROLE sd_app;
GRANT USAGE, CREATE ON SCHEMA sd TO sd_app;
SET tenant_backup.table_owners = 'sd_app';
CREATE TABLE sd.moods (sd_tenant varchar(20) NOT NULL, m sd.mood);
CREATE INDEX ON sd.moods (sd_tenant);
INSERT INTO sd.moods VALUES ('acme', 'happy');
SET ROLE sd_app;
CREATE TABLE sd.ledger (sd_tenant varchar(20) NOT NULL, amount sd.checked);
CREATE INDEX ON sd.ledger (sd_tenant);
INSERT INTO sd.ledger VALUES ('acme', 5);
RESET ROLE;
DELETE FROM sd.pwned; -- sd_app's own insert ran the CHECK as sd_app
SELECT tenant_backup.backup_create('acme') AS mood_bid \gset
SELECT count(*) FILTER (WHERE line LIKE '%"m":"happy"%') AS rendered_by_cast FROM tenant_backup.backup_download(:mood_bid) AS line;
SELECT string_agg(line || E'\n', '') AS doc FROM tenant_backup.backup_download(:mood_bid) AS line \gset
SELECT tenant_backup.backup_import(:'doc') IS NOT NULL AS imported;
SELECT who, was_superuser, via FROM sd.pwned GROUP BY 1, 2, 3 ORDER BY 3, 1;
SELECT rolsuper FROM pg_roles WHERE rolname IN ('sd_attacker', 'sd_app') ORDER BY rolname;
RESET tenant_backup.table_owners;
DELETE FROM sd.pwned;
DROP TABLE sd.moods, sd.ledger;

-- Code of another role that runs inside our work (a CHECK during a superuser's restore, run as
-- the table's owner) may call set_config(): what it sets ends with our scope, never reaching our
-- later statements or the caller's session.
SET tenant_backup.table_owners = 'sd_app';
SET ROLE sd_app;
CREATE FUNCTION sd.sets_things(v int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('search_path', 'sd, public, pg_catalog', false);
    PERFORM set_config('work_mem', '77kB', false);
    RETURN true;
END $$;
CREATE TABLE sd.notes (sd_tenant varchar(20) NOT NULL, v int CHECK (sd.sets_things(v)));
CREATE INDEX ON sd.notes (sd_tenant);
INSERT INTO sd.notes VALUES ('acme', 1);
RESET ROLE;
SET search_path = public, sd;
SET work_mem = '4MB';
SELECT tenant_backup.backup_create('acme') AS notes_bid \gset
SELECT table_name, rows_restored FROM tenant_backup.backup_restore(:notes_bid) WHERE table_name = 'sd.notes';
SHOW search_path;
SHOW work_mem;

-- A table the archive names that is no longer a tenant table is not restored into: here sd.notes
-- was dropped and another role made a table of that name and shape.
DROP TABLE sd.notes;
SET ROLE sd_attacker;
CREATE TABLE sd.notes (sd_tenant varchar(20) NOT NULL, v int);
RESET ROLE;
SELECT * FROM tenant_backup.backup_restore(:notes_bid);
DROP TABLE sd.notes;

-- The tenant registry is read by the scheduler as a superuser: it must be a table, of an owner
-- nobody needs to distrust. A view (its functions run as the reader) or a table of an untrusted
-- owner is refused.
SET ROLE sd_attacker;
CREATE VIEW sd.registry_view AS SELECT 'acme'::varchar AS sd_tenant WHERE public.sd_record('registry view');
CREATE TABLE sd.registry_planted (sd_tenant varchar(20));
RESET ROLE;
SET tenant_backup.tenant_registry = 'sd.registry_view';
SELECT count(*) FROM tenant_backup.backup_schedules();
SET tenant_backup.tenant_registry = 'sd.registry_planted';
SELECT count(*) FROM tenant_backup.backup_schedules();
RESET tenant_backup.tenant_registry;

-- A registered table that is no longer a table (PostgreSQL 15 still turns an empty table into a
-- view with a _RETURN rule) is a gap, never read.
SET ROLE sd_app;
CREATE TABLE sd.turncoat (sd_tenant varchar(20), v int);
RESET ROLE;
SELECT tenant_backup.backup_register_table('sd.turncoat', 'sd_tenant');
SET ROLE sd_app;
CREATE RULE "_RETURN" AS ON SELECT TO sd.turncoat DO INSTEAD
    SELECT 'acme'::varchar AS sd_tenant, 1 AS v WHERE public.sd_record('registered view');
RESET ROLE;
SELECT table_name, reason FROM tenant_backup.backup_table_gaps() WHERE table_name::text LIKE '%turncoat%';
SELECT tenant_backup.backup_create('acme') IS NOT NULL AS backed_up;
SELECT count(*) FROM tenant_backup.backup_schedules();
SELECT tenant_backup.backup_exclude_table('sd.turncoat');
RESET tenant_backup.table_owners;
SELECT * FROM sd.pwned;
RESET search_path;
RESET work_mem;

-- Finding 13: a quota on manual and imported backups per tenant (scheduled ones are bounded by
-- retention). With a limit of one more than acme has, the next backup is taken and the one after
-- it is refused, naming the setting.
SELECT count(*) + 1 AS quota FROM tenant_backup.backups WHERE tenant = 'acme' AND kind <> 'auto' \gset
SET tenant_backup.max_backups_per_tenant = :quota;
SELECT tenant_backup.backup_create('acme') IS NOT NULL AS one_more_backup;
SELECT tenant_backup.backup_create('acme');
SELECT count(*) = :quota AS at_the_limit FROM tenant_backup.backups WHERE tenant = 'acme';
RESET tenant_backup.max_backups_per_tenant;
SET ROLE sd_attacker;
SET tenant_backup.max_backups_per_tenant = 0;
RESET ROLE;

RESET search_path;
DROP SCHEMA sd CASCADE;
REVOKE CREATE ON SCHEMA public FROM sd_attacker;
DROP OWNED BY sd_attacker;
DROP ROLE sd_attacker;
DROP OWNED BY sd_app;
DROP ROLE sd_app;
