-- Issue 21: comparisons by a key whose equal values are equal bytes (integers, uuid, text under a
-- deterministic collation, ...) stream: the backup's rows go into a hash table on the key, within
-- work_mem × hash_mem_multiplier, and past it both sides are split into temporary files. Each
-- table here has a twin keyed by numeric, which PostgreSQL's own join compares: the two ways give
-- the same counts, in memory and split, and restores end exactly as the backup. Tenant column
-- "acct38" (this file's own tables only).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 38000) AS id_base \gset
SET tenant_backup.encryption_key_command = 'echo 5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
SET tenant_backup.tenant_column = 'acct38';
SET tenant_backup.pre_restore_backup = off;
CREATE SCHEMA d38;
-- streamed: an integer key, a composite key of uuid and text, a text key; each with a numeric twin
CREATE TABLE d38.items (id bigint PRIMARY KEY, acct38 integer NOT NULL, body text, payload jsonb);
CREATE TABLE d38.items_n (id numeric PRIMARY KEY, acct38 integer NOT NULL, body text, payload jsonb);
CREATE TABLE d38.links (ref uuid NOT NULL, name text COLLATE "C" NOT NULL, acct38 integer NOT NULL, note text,
                        PRIMARY KEY (ref, name));
CREATE TABLE d38.links_n (ref numeric NOT NULL, name text COLLATE "C" NOT NULL, acct38 integer NOT NULL, note text,
                          PRIMARY KEY (ref, name));
CREATE TABLE d38.codes (code text COLLATE "C" NOT NULL, acct38 integer NOT NULL, label text NOT NULL, UNIQUE (code));
CREATE INDEX ON d38.items (acct38);
CREATE INDEX ON d38.items_n (acct38);
CREATE INDEX ON d38.links (acct38);
CREATE INDEX ON d38.links_n (acct38);
CREATE INDEX ON d38.codes (acct38);
-- small enough to be compared without a sample first
CREATE TABLE d38.notes (id integer PRIMARY KEY, acct38 integer NOT NULL, body text NOT NULL);
CREATE INDEX ON d38.notes (acct38);
INSERT INTO d38.items SELECT g, 3801, repeat(md5(g::text), 1 + g % 3), jsonb_build_object('n', g)
FROM generate_series(1, 6000) g;
INSERT INTO d38.items SELECT g, 3802, 'theirs', NULL FROM generate_series(6001, 6100) g;
-- a TOASTed value
UPDATE d38.items SET body = repeat('long body ', 30000) WHERE id = 7;
INSERT INTO d38.items_n SELECT * FROM d38.items;
INSERT INTO d38.links SELECT md5(g::text)::uuid, 'n' || (g % 7), 3801, CASE WHEN g % 5 = 0 THEN NULL ELSE 'x' END
FROM generate_series(1, 3000) g;
INSERT INTO d38.links_n SELECT g, 'n' || (g % 7), 3801, CASE WHEN g % 5 = 0 THEN NULL ELSE 'x' END
FROM generate_series(1, 3000) g;
INSERT INTO d38.codes SELECT 'c' || g, 3801, 'label ' || g FROM generate_series(1, 500) g;
INSERT INTO d38.notes SELECT g, 3801, 'note ' || g FROM generate_series(1, 1800) g;
SELECT tenant_backup.backup_create('3801') AS b1 \gset

-- Changes: updates (one of them to the TOASTed value, one to a NULL), deletes and inserts mixed.
CREATE FUNCTION pg_temp.change(items regclass, links regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE %s SET body = body || ''!'' WHERE id IN (7, 10, 20, 30, 4000)', items);
    EXECUTE format('UPDATE %s SET payload = NULL WHERE id = 11', items);
    EXECUTE format('DELETE FROM %s WHERE id IN (12, 13, 5999)', items);
    EXECUTE format('INSERT INTO %s VALUES (7001, 3801, ''new'', ''{}''), (7002, 3801, NULL, NULL)', items);
    EXECUTE format('UPDATE %s SET payload = ''{"n": 6050}'' WHERE id = 6050', items); -- another tenant's
    EXECUTE format('UPDATE %s SET note = ''y'' WHERE note IS NULL AND name = ''n1''', links);
    EXECUTE format('DELETE FROM %s WHERE name = ''n2'' AND note IS NULL', links);
END $$;
SELECT pg_temp.change('d38.items', 'd38.links');
SELECT pg_temp.change('d38.items_n', 'd38.links_n');
-- In the streamed link rows the key is a uuid; the twin's rows by numeric: the same changes.
UPDATE d38.codes SET label = 'changed' WHERE code IN ('c1', 'c2');
DELETE FROM d38.codes WHERE code = 'c3';
INSERT INTO d38.codes VALUES ('c9999', 3801, 'new');

-- The counts, in memory: each streamed table against its twin.
CREATE TEMP TABLE counts_in_memory AS
SELECT table_name, matched_by, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_diff(:b1) WHERE table_name LIKE 'd38.%';
SELECT * FROM counts_in_memory ORDER BY table_name;
-- Split into temporary files (64kB of memory): the same counts.
SET work_mem = '64kB';
SET hash_mem_multiplier = 1;
SELECT count(*) AS differing_counts FROM (
    SELECT table_name, matched_by, only_in_backup, only_live, changed, unchanged
    FROM tenant_backup.backup_diff(:b1) WHERE table_name LIKE 'd38.%'
    EXCEPT SELECT * FROM counts_in_memory) d;
-- A preview says the same, split too.
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b1, dry_run => true) WHERE table_name LIKE 'd38.%' ORDER BY table_name;

-- The restore, split: only the differences written, and the tenant exactly as the backup.
CREATE TEMP TABLE before_restore AS SELECT * FROM d38.items WHERE acct38 = 3802;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name IN ('d38.items', 'd38.links', 'd38.codes') ORDER BY table_name;
RESET work_mem;
RESET hash_mem_multiplier;
SELECT table_name, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_diff(:b1) WHERE table_name IN ('d38.items', 'd38.links', 'd38.codes') ORDER BY table_name;
SELECT length(body) AS toasted_length FROM d38.items WHERE id = 7;
-- the other tenant's rows are untouched (its change stays)
SELECT count(*) AS other_tenant_changed FROM (SELECT * FROM d38.items WHERE acct38 = 3802
                                               EXCEPT SELECT * FROM before_restore) d;

-- Most rows changed: the table is deleted and reloaded instead, with the same result. No sample
-- first: the comparison stops once 2,000 rows were compared and more than a quarter of them differ
-- (items), or past a quarter of all rows, at least 1,000, differing (notes).
UPDATE d38.items SET body = body || '?' WHERE acct38 = 3801;
UPDATE d38.notes SET body = body || '?';
SELECT table_name, rows_removed, rows_restored, only_in_backup IS NULL AS reloaded
FROM tenant_backup.backup_restore(:b1, dry_run => false) WHERE table_name IN ('d38.items', 'd38.notes')
ORDER BY table_name;
SELECT table_name, only_in_backup, only_live, changed, unchanged FROM tenant_backup.backup_diff(:b1)
WHERE table_name IN ('d38.items', 'd38.notes') ORDER BY table_name;

-- A column of a NOT NULL domain: a row added since the backup is removed (the differences'
-- table holds it whole, never a NULL the domain refuses).
CREATE DOMAIN d38.label AS text NOT NULL CHECK (VALUE <> '');
CREATE TABLE d38.tagged (id integer PRIMARY KEY, acct38 integer NOT NULL, label d38.label);
CREATE INDEX ON d38.tagged (acct38);
INSERT INTO d38.tagged SELECT g, 3801, 'tag ' || g FROM generate_series(1, 20) g;
SELECT tenant_backup.backup_create('3801') AS b3 \gset
INSERT INTO d38.tagged VALUES (21, 3801, 'added since');
UPDATE d38.tagged SET label = 'changed' WHERE id = 1;
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b3, dry_run => false) WHERE table_name = 'd38.tagged';
SELECT count(*) AS tagged, min(label) FILTER (WHERE id = 1) AS first FROM d38.tagged;

-- A key added since the backup, over rows the backup holds twice: the comparison counts each
-- pair as PostgreSQL's join does (its numeric twin), and a restore fails as reloading them must.
CREATE TABLE d38.dups (id integer NOT NULL, acct38 integer NOT NULL, v text);
CREATE INDEX ON d38.dups (acct38);
CREATE TABLE d38.dups_n (id numeric NOT NULL, acct38 integer NOT NULL, v text);
CREATE INDEX ON d38.dups_n (acct38);
INSERT INTO d38.dups VALUES (1, 3801, 'a'), (1, 3801, 'b'), (2, 3801, 'c');
INSERT INTO d38.dups_n VALUES (1, 3801, 'a'), (1, 3801, 'b'), (2, 3801, 'c');
SELECT tenant_backup.backup_create('3801') AS b2 \gset
DELETE FROM d38.dups WHERE v = 'b';
DELETE FROM d38.dups_n WHERE v = 'b';
ALTER TABLE d38.dups ADD PRIMARY KEY (id);
ALTER TABLE d38.dups_n ADD PRIMARY KEY (id);
SELECT table_name, matched_by, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_diff(:b2) WHERE table_name LIKE 'd38.dups%' ORDER BY table_name;
SELECT count(*) FROM tenant_backup.backup_restore(:b2);
