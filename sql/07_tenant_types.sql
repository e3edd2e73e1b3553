-- tenant_backup regression tests, part 7: tenant keys of type uuid, text/varchar, bigint and
-- smallint, each in its own schema with its own tenant column (tenant_backup.tenant_column), so
-- that a tenant value only has to cast to that schema's column types.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
-- Backup ids printed in this file start at 7001, whatever ran before.
SELECT setval('tenant_backup.backups_id_seq', 7000) AS id_base \gset

-- Rows of a set of tables for one tenant column value, as jsonb text, for comparisons.
CREATE FUNCTION pg_temp.rows_of(tables regclass[], col name, val text) RETURNS TABLE (tbl text, r text)
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY tables LOOP
        RETURN QUERY EXECUTE format('SELECT %L, to_jsonb(x)::text FROM %s x WHERE %I::text = $1', t, t, col)
            USING val;
    END LOOP;
END
$$;

------------------------------------------------------------------------------------------------
-- uuid: organisations, with a hash-partitioned table.
------------------------------------------------------------------------------------------------
SET tenant_backup.tenant_column = 'org';
CREATE SCHEMA saas;
CREATE TABLE saas.orgs (org uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE saas.projects (
    id    bigserial PRIMARY KEY,
    org   uuid NOT NULL REFERENCES saas.orgs,
    title text NOT NULL
);
CREATE INDEX ON saas.projects (org);
CREATE TABLE saas.files (
    org        uuid NOT NULL,
    project_id bigint NOT NULL REFERENCES saas.projects,
    path       text NOT NULL,
    content    bytea
) PARTITION BY HASH (project_id);
CREATE TABLE saas.files_0 PARTITION OF saas.files FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE saas.files_1 PARTITION OF saas.files FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE INDEX ON saas.files (org);
INSERT INTO saas.orgs VALUES
    ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'alpha'),
    ('b1ffcd88-8d1a-4ef8-bb6d-6bb9bd380a22', 'beta'),
    ('c2aade77-7e2b-4ef8-bb6d-6bb9bd380a33', 'gamma');
INSERT INTO saas.projects (org, title) SELECT org, name || ' project ' || n FROM saas.orgs, generate_series(1, 3) n;
INSERT INTO saas.files SELECT org, id, '/doc/' || id, decode(md5(title), 'hex') FROM saas.projects;
SELECT * FROM tenant_backup.backup_tables();
-- Alpha's (and beta's) files are spread over both partitions.
SELECT o.name, count(DISTINCT f.tableoid) AS partitions FROM saas.files f JOIN saas.orgs o USING (org)
GROUP BY o.name ORDER BY o.name;

\set alpha 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
\set saas_tables '{saas.orgs,saas.projects,saas.files}'
CREATE TABLE alpha_before AS SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', :'alpha');
CREATE TABLE others_before AS
    SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', 'b1ffcd88-8d1a-4ef8-bb6d-6bb9bd380a22')
    UNION ALL SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', 'c2aade77-7e2b-4ef8-bb6d-6bb9bd380a33');
SELECT tenant_backup.backup_create(:'alpha', 'uuid tenant') AS bid \gset
SELECT tenant, row_count FROM tenant_backup.backups WHERE id = :bid;
-- Damage alpha, restore, compare.
DELETE FROM saas.files WHERE org = :'alpha' AND path LIKE '%1';
UPDATE saas.projects SET title = 'hijacked' WHERE org = :'alpha';
INSERT INTO saas.projects (org, title) VALUES (:'alpha', 'extra');
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT count(*) AS missing FROM (SELECT * FROM alpha_before
    EXCEPT ALL SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', :'alpha')) d;
SELECT count(*) AS unexpected FROM (SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', :'alpha')
    EXCEPT ALL SELECT * FROM alpha_before) d;
SELECT count(*) AS others_changed FROM (
    (SELECT * FROM others_before
     EXCEPT ALL (SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', 'b1ffcd88-8d1a-4ef8-bb6d-6bb9bd380a22')
                 UNION ALL SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', 'c2aade77-7e2b-4ef8-bb6d-6bb9bd380a33')))
    UNION ALL
    (SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', 'b1ffcd88-8d1a-4ef8-bb6d-6bb9bd380a22')
     UNION ALL SELECT * FROM pg_temp.rows_of(:'saas_tables', 'org', 'c2aade77-7e2b-4ef8-bb6d-6bb9bd380a33')
     EXCEPT ALL SELECT * FROM others_before)) d;
INSERT INTO saas.projects (org, title) VALUES (:'alpha', 'after restore')
RETURNING id > (SELECT max(id) FROM saas.projects) AS project_id_is_new;
-- A value that is not a uuid; a uuid of no organisation is an empty (valid) backup.
SELECT tenant_backup.backup_create('not-a-uuid');
SELECT tenant_backup.backup_create('00000000-0000-0000-0000-000000000000') AS bid_none \gset
SELECT status, row_count FROM tenant_backup.backups WHERE id = :bid_none;
-- The app schema's integer tables are not part of these backups, but a tenant_id table would
-- be as soon as the setting says so: an integer column cannot take a uuid.
SET tenant_backup.tenant_column = 'tenant_id';
SELECT tenant_backup.backup_create(:'alpha');
SET tenant_backup.tenant_column = 'org';
DROP TABLE alpha_before, others_before;

------------------------------------------------------------------------------------------------
-- text and varchar: tenant values with quotes, spaces, non-ASCII characters.
------------------------------------------------------------------------------------------------
SET tenant_backup.tenant_column = 'account';
CREATE SCHEMA txt;
CREATE TABLE txt.accounts (account text PRIMARY KEY, plan text);
CREATE TABLE txt.posts (account varchar(40) NOT NULL REFERENCES txt.accounts, id serial PRIMARY KEY, body text);
CREATE INDEX ON txt.posts (account);
INSERT INTO txt.accounts VALUES ('O''Reilly & Sons', 'pro'), ('Müller GmbH', 'free'), (' padded ', 'free'),
    ('o''reilly & sons', 'free');
INSERT INTO txt.posts (account, body) SELECT account, 'post of ' || account FROM txt.accounts, generate_series(1, 2);
SELECT table_name, tenant_column, tenant_type FROM tenant_backup.backup_tables();
SELECT tenant_backup.backup_create('O''Reilly & Sons', 'quotes') AS bid_q \gset
SELECT tenant_backup.backup_create('Müller GmbH', 'umlaut') AS bid_u \gset
SELECT tenant_backup.backup_create(' padded ', 'spaces') AS bid_s \gset
SELECT id - :id_base AS n, tenant, row_count FROM tenant_backup.backups WHERE id IN (:bid_q, :bid_u, :bid_s) ORDER BY id;
CREATE TABLE txt_before AS SELECT * FROM txt.posts;
DELETE FROM txt.posts;
UPDATE txt.accounts SET plan = 'none';
SELECT * FROM tenant_backup.backup_restore(:bid_q);
SELECT * FROM tenant_backup.backup_restore(:bid_u);
SELECT * FROM tenant_backup.backup_restore(:bid_s);
-- The three accounts are back exactly; tenant values are exact: the account that differs only
-- in case was in none of the backups (its posts are gone, its plan still 'none').
SELECT account, plan, (SELECT count(*) FROM txt.posts p WHERE p.account = a.account) AS posts
FROM txt.accounts a ORDER BY account COLLATE "C";
SELECT (SELECT count(*) FROM (SELECT * FROM txt_before WHERE account <> 'o''reilly & sons'
                              EXCEPT ALL SELECT * FROM txt.posts) d) AS missing,
       (SELECT count(*) FROM (SELECT * FROM txt.posts
                              EXCEPT ALL SELECT * FROM txt_before) d) AS unexpected;
SELECT count(*) AS listed_by_exact_value FROM tenant_backup.backup_list('O''Reilly & Sons');
SELECT count(*) AS listed_case_insensitively FROM tenant_backup.backup_list('o''reilly & sons');
DROP TABLE txt_before;

------------------------------------------------------------------------------------------------
-- bigint and smallint: the value must fit every tenant column's type.
------------------------------------------------------------------------------------------------
SET tenant_backup.tenant_column = 'region';
CREATE SCHEMA num;
CREATE TABLE num.big (region bigint NOT NULL, v text);
CREATE TABLE num.small (region smallint NOT NULL, v text);
CREATE INDEX ON num.big (region);
CREATE INDEX ON num.small (region);
INSERT INTO num.big VALUES (9007199254740993, 'huge'), (-5, 'negative'), (7, 'seven');
INSERT INTO num.small VALUES (-5, 'negative'), (7, 'seven');
SELECT table_name, tenant_type FROM tenant_backup.backup_tables();
-- Too large for smallint: an error naming num.small.
SELECT tenant_backup.backup_create('9007199254740993');
-- Excluding num.small makes it possible (the exclusion is written into the catalog directly
-- here; backup_exclude_table() itself is tested in 02_register_exclude).
INSERT INTO tenant_backup.registered_tables (tbl, excluded) VALUES ('num.small', true);
SELECT tenant_backup.backup_create('9007199254740993') AS bid_big \gset
DELETE FROM tenant_backup.registered_tables WHERE tbl = 'num.small'::regclass;
SELECT tenant_backup.backup_create('-5') AS bid_neg \gset
SELECT id - :id_base AS n, tenant, row_count,
       (SELECT array_agg(t->>'name' ORDER BY t->>'name') FROM jsonb_array_elements(tables) t) AS tables
FROM tenant_backup.backups WHERE id IN (:bid_big, :bid_neg) ORDER BY id;
UPDATE num.big SET v = 'changed';
UPDATE num.small SET v = 'changed';
SELECT * FROM tenant_backup.backup_restore(:bid_big);
SELECT * FROM tenant_backup.backup_restore(:bid_neg);
SELECT 'big' AS t, region, v FROM num.big UNION ALL SELECT 'small', region, v FROM num.small ORDER BY 1, 2;

RESET tenant_backup.tenant_column;
DROP SCHEMA saas, txt, num CASCADE;
