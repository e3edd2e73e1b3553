-- tenant_backup regression tests, part 5: schema drift, i.e. restoring a backup into tables
-- whose definition changed since. What can be mapped is restored (new columns get their
-- defaults, dropped columns are skipped with a warning); what cannot is an error naming the
-- column or table, and nothing is restored.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
-- Backup ids printed in this file start at 5001, whatever ran before.
SELECT setval('tenant_backup.backups_id_seq', 5000) AS id_base \gset

-- Own schema and own tenant column ("shop_id"), so that backups here contain only these tables.
SET tenant_backup.tenant_column = 'shop_id';
CREATE SCHEMA drift;
CREATE TABLE drift.shops (
    shop_id integer PRIMARY KEY,
    name    text NOT NULL
);
CREATE TABLE drift.items (
    id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id integer NOT NULL REFERENCES drift.shops,
    name    text NOT NULL,
    price   numeric(10,2) NOT NULL,
    legacy  text,
    qty     integer NOT NULL
);
CREATE INDEX ON drift.items (shop_id);
CREATE TABLE drift.tags (
    shop_id integer NOT NULL,
    item_id integer NOT NULL REFERENCES drift.items ON DELETE CASCADE,
    tag     text NOT NULL
);
CREATE INDEX ON drift.tags (shop_id);
INSERT INTO drift.shops VALUES (1, 'north'), (2, 'south');
INSERT INTO drift.items (shop_id, name, price, legacy, qty) VALUES
    (1, 'apple', 0.50, 'old-a', 10), (1, 'pear', 0.75, NULL, 4), (2, 'plum', 0.30, 'old-p', 7);
INSERT INTO drift.tags VALUES (1, 1, 'fruit'), (1, 2, 'fruit'), (1, 2, 'green'), (2, 3, 'fruit');
SELECT table_name, tenant_column, tenant_type FROM tenant_backup.backup_tables();

-- Rows of the shops as jsonb text (independent of column order), to compare before and after.
CREATE FUNCTION drift.shop_rows(shops integer[]) RETURNS TABLE (tbl text, r text) LANGUAGE sql AS $$
    SELECT 'shops', to_jsonb(x)::text FROM drift.shops x WHERE shop_id = ANY (shops)
    UNION ALL SELECT 'items', to_jsonb(x)::text FROM drift.items x WHERE shop_id = ANY (shops)
    UNION ALL SELECT 'tags', to_jsonb(x)::text FROM drift.tags x WHERE shop_id = ANY (shops)
$$;
CREATE FUNCTION drift.diff(snapshot regclass, shops integer[], OUT missing bigint, OUT unexpected bigint)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT (SELECT count(*) FROM (SELECT tbl, r FROM %1$s EXCEPT ALL
                                                  SELECT tbl, r FROM drift.shop_rows($1)) m),
                           (SELECT count(*) FROM (SELECT tbl, r FROM drift.shop_rows($1) EXCEPT ALL
                                                  SELECT tbl, r FROM %1$s) u)', snapshot)
        INTO missing, unexpected USING shops;
END
$$;

SELECT tenant_backup.backup_create('1', 'drift 1') AS b1 \gset

------------------------------------------------------------------------------------------------
-- Changes that a restore maps:
--  * new columns: with a default, an identity, a generated column;
--  * "legacy" dropped: its archived values are skipped, with a warning;
--  * "qty" is now a generated column: its archived values are skipped, with a warning;
--  * "name" dropped and added again (now the last column): restored by name, not position.
------------------------------------------------------------------------------------------------
ALTER TABLE drift.items ADD COLUMN color text NOT NULL DEFAULT 'black',
                        ADD COLUMN serial_no bigint GENERATED ALWAYS AS IDENTITY,
                        ADD COLUMN code text GENERATED ALWAYS AS ('item-' || id) STORED,
                        DROP COLUMN legacy;
ALTER TABLE drift.items DROP COLUMN qty, ADD COLUMN qty integer GENERATED ALWAYS AS (id * 100) STORED;
ALTER TABLE drift.items DROP COLUMN name, ADD COLUMN name text;
UPDATE drift.items SET name = 'renamed', color = 'red' WHERE shop_id = 1;
DELETE FROM drift.items WHERE shop_id = 1 AND id = 2;
CREATE TABLE shop2_before AS SELECT * FROM drift.shop_rows(ARRAY[2]);
SELECT * FROM tenant_backup.backup_restore(:b1);
SELECT id, shop_id, name, price, color, serial_no IS NOT NULL AS has_serial_no, code, qty
FROM drift.items ORDER BY id;
SELECT * FROM drift.tags ORDER BY shop_id, item_id, tag;
-- Shop 2 was not touched.
SELECT * FROM drift.diff('shop2_before', ARRAY[2]);

-- A fresh backup of the new layout for the next cases.
SELECT tenant_backup.backup_create('1', 'drift 2') AS b2 \gset
CREATE TABLE shop1_at_b2 AS SELECT * FROM drift.shop_rows(ARRAY[1]);
SELECT c->>'name' AS name, c->>'type' AS type
FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t, jsonb_array_elements(t->'columns') c
WHERE b.id = :b2 AND t->>'name' = 'items';
-- Damage shop 1: each failed restore below must leave exactly this.
UPDATE drift.shops SET name = 'north (damaged)' WHERE shop_id = 1;
DELETE FROM drift.tags WHERE shop_id = 1 AND tag = 'green';
INSERT INTO drift.items (shop_id, price, name) VALUES (1, 9.99, 'intruder');
CREATE TABLE shop1_damaged AS SELECT * FROM drift.shop_rows(ARRAY[1]);

------------------------------------------------------------------------------------------------
-- A column whose type changed so that its values do not convert: an error naming it; nothing
-- restored. (Compatible changes are converted: 26_migrations.sql.)
------------------------------------------------------------------------------------------------
-- No cast from numeric to numeric[]: refused when planned.
ALTER TABLE drift.items ALTER COLUMN price TYPE numeric(10,2)[] USING ARRAY[price];
SELECT * FROM tenant_backup.backup_restore(:b2);
ALTER TABLE drift.items ALTER COLUMN price TYPE numeric(10,2) USING price[1];
SELECT * FROM drift.diff('shop1_damaged', ARRAY[1]);
-- Through text, 'black' is no text[]: refused at the first row, naming its key.
ALTER TABLE drift.items ALTER COLUMN color DROP DEFAULT, ALTER COLUMN color TYPE text[] USING ARRAY[color];
SELECT * FROM tenant_backup.backup_restore(:b2);
ALTER TABLE drift.items ALTER COLUMN color TYPE text USING color[1], ALTER COLUMN color SET DEFAULT 'black';
SELECT * FROM drift.diff('shop1_damaged', ARRAY[1]);
-- The tenant column itself, now of a type tenant columns cannot have.
ALTER TABLE drift.tags ALTER COLUMN shop_id TYPE numeric;
SELECT * FROM tenant_backup.backup_restore(:b2);
ALTER TABLE drift.tags ALTER COLUMN shop_id TYPE integer;
SELECT * FROM drift.diff('shop1_damaged', ARRAY[1]);

------------------------------------------------------------------------------------------------
-- A table dropped (or renamed, or replaced by a view) since the backup, with strict => true: an
-- error naming it; nothing restored, not even the tables the restore had already reloaded
-- (items, shops). Without strict a dropped table is skipped (below, and 26_migrations.sql).
------------------------------------------------------------------------------------------------
-- (A table renamed in this database is found again by its OID: restored, then rolled back.)
ALTER TABLE drift.tags RENAME TO tags_old;
BEGIN;
SELECT * FROM tenant_backup.backup_restore(:b2, strict => true);
ROLLBACK;
ALTER TABLE drift.tags_old RENAME TO tags;
CREATE TABLE drift.tags_new (LIKE drift.tags INCLUDING ALL);
INSERT INTO drift.tags_new SELECT * FROM drift.tags;
ALTER TABLE drift.tags_new ADD FOREIGN KEY (item_id) REFERENCES drift.items ON DELETE CASCADE;
DROP TABLE drift.tags;
ALTER TABLE drift.tags_new RENAME TO tags_old;
-- Renamed as a copy (another OID): the name is all there is, and it is gone.
SELECT * FROM tenant_backup.backup_restore(:b2, strict => true);
SELECT * FROM drift.shops ORDER BY shop_id;
CREATE VIEW drift.tags AS SELECT * FROM drift.tags_old;
SELECT * FROM tenant_backup.backup_restore(:b2);
DROP VIEW drift.tags;
ALTER TABLE drift.tags_old RENAME TO tags;
SELECT * FROM drift.diff('shop1_damaged', ARRAY[1]);
-- The tenant column dropped from a table.
ALTER TABLE drift.tags DROP COLUMN shop_id;
SELECT * FROM tenant_backup.backup_restore(:b2);
SELECT count(*) AS tags FROM drift.tags;
ALTER TABLE drift.tags ADD COLUMN shop_id integer;
UPDATE drift.tags SET shop_id = i.shop_id FROM drift.items i WHERE i.id = tags.item_id;
ALTER TABLE drift.tags ALTER COLUMN shop_id SET NOT NULL;
-- A new column without a default but NOT NULL: the load itself fails.
ALTER TABLE drift.items ADD COLUMN sku text NOT NULL DEFAULT 'x';
ALTER TABLE drift.items ALTER COLUMN sku DROP DEFAULT;
\set VERBOSITY terse
SELECT * FROM tenant_backup.backup_restore(:b2);
\set VERBOSITY default
ALTER TABLE drift.items DROP COLUMN sku;
SELECT * FROM drift.diff('shop1_damaged', ARRAY[1]);

-- Dropped for real: the same error, with its hint.
DROP TABLE drift.tags;
SELECT * FROM tenant_backup.backup_restore(:b2, strict => true);
SELECT * FROM drift.shops ORDER BY shop_id;
-- Recreated: the restore works again.
CREATE TABLE drift.tags (
    shop_id integer NOT NULL,
    item_id integer NOT NULL REFERENCES drift.items ON DELETE CASCADE,
    tag     text NOT NULL
);
CREATE INDEX ON drift.tags (shop_id);
SELECT * FROM tenant_backup.backup_restore(:b2);
SELECT * FROM drift.diff('shop1_at_b2', ARRAY[1]);

------------------------------------------------------------------------------------------------
-- A tenant table created since the backup is not in it: a restore leaves its rows alone.
------------------------------------------------------------------------------------------------
CREATE TABLE drift.reviews (shop_id integer NOT NULL, stars integer);
CREATE INDEX ON drift.reviews (shop_id);
INSERT INTO drift.reviews VALUES (1, 5), (2, 3);
SELECT * FROM tenant_backup.backup_restore(:b2);
SELECT * FROM drift.reviews ORDER BY shop_id;
DROP TABLE drift.reviews;

------------------------------------------------------------------------------------------------
-- A partitioned table (by list of the tenant column) that lost the partition of the tenant.
------------------------------------------------------------------------------------------------
CREATE TABLE drift.visits (shop_id integer NOT NULL, day date NOT NULL) PARTITION BY LIST (shop_id);
CREATE TABLE drift.visits_1 PARTITION OF drift.visits FOR VALUES IN (1);
CREATE TABLE drift.visits_2 PARTITION OF drift.visits FOR VALUES IN (2);
CREATE INDEX ON drift.visits (shop_id);
INSERT INTO drift.visits VALUES (1, '2024-01-01'), (1, '2024-01-02'), (2, '2024-01-03');
SELECT tenant_backup.backup_create('1', 'drift 3') AS b3 \gset
SELECT * FROM tenant_backup.backup_restore(:b3);
ALTER TABLE drift.visits DETACH PARTITION drift.visits_1;
\set VERBOSITY terse
SELECT * FROM tenant_backup.backup_restore(:b3);
\set VERBOSITY default
SELECT tableoid::regclass, * FROM drift.visits ORDER BY day;
-- With a default partition the rows have a place again.
CREATE TABLE drift.visits_other PARTITION OF drift.visits DEFAULT;
SELECT * FROM tenant_backup.backup_restore(:b3);
SELECT tableoid::regclass, * FROM drift.visits ORDER BY day;
-- The detached table is an ordinary tenant table now; it was not part of the backup.
SELECT count(*) AS detached_rows FROM drift.visits_1;

RESET tenant_backup.tenant_column;
DROP TABLE shop2_before, shop1_at_b2, shop1_damaged;
DROP SCHEMA drift CASCADE;
