-- tenant_backup regression tests, part 26 (issue 20): backups that keep restoring across the
-- schema migrations a SaaS team makes every week. One case per row of the rule table in
-- docs/REFERENCE.md (backup_restore, "Schema drift"): converted, refused with the row's key named, refused when
-- planned, dropped table skipped (or refused with strict), new NOT NULL column named; then restore
-- drills (backup_drill) and what backup_status says of them.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
CREATE EXTENSION IF NOT EXISTS citext;
-- Backup ids printed in this file start at 26001, whatever ran before.
SELECT setval('tenant_backup.backups_id_seq', 26000) AS id_base \gset

SET tenant_backup.tenant_column = 'mig_org';
CREATE SCHEMA mig;
CREATE TYPE mig.status AS ENUM ('new', 'paid', 'void');
CREATE TABLE mig.orders (
    id      integer PRIMARY KEY,
    mig_org  integer NOT NULL,
    amount  numeric(12,2) NOT NULL,
    code    varchar(8),
    email   text,
    status  mig.status NOT NULL
);
CREATE INDEX ON mig.orders (mig_org);
CREATE TABLE mig.notes (mig_org integer NOT NULL, body text);
CREATE INDEX ON mig.notes (mig_org);
INSERT INTO mig.orders VALUES
    (1, 2601, 10.50, 'A-1', 'Ann@Example.com', 'new'),
    (2, 2601, 99999.99, 'B-22', NULL, 'paid'),
    (3, 2601, 0.01, NULL, 'x@y.z', 'void'),
    (4, 2602, 5.00, 'C-3', 'other@tenant', 'new');
INSERT INTO mig.notes VALUES (2601, 'first'), (2602, 'other tenant');
SELECT tenant_backup.backup_create('2601', 'before the migrations') AS b1 \gset

-- The tenant's orders as jsonb text (independent of column order and of the types' spelling).
CREATE FUNCTION mig.orders_of(org integer) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT to_jsonb(o)::text FROM mig.orders o WHERE mig_org = org ORDER BY id
$$;
CREATE TABLE org1_at_b1 AS SELECT * FROM mig.orders_of(2601) r;

------------------------------------------------------------------------------------------------
-- Row "converted": int -> bigint (the key and the tenant column), a wider numeric,
-- varchar(n) -> text, text -> citext, an enum replaced by one whose labels include the old ones.
------------------------------------------------------------------------------------------------
CREATE TYPE mig.status2 AS ENUM ('new', 'paid', 'void', 'refunded');
ALTER TABLE mig.orders ALTER COLUMN id TYPE bigint,
                       ALTER COLUMN mig_org TYPE bigint,
                       ALTER COLUMN amount TYPE numeric(14,2),
                       ALTER COLUMN code TYPE text,
                       ALTER COLUMN email TYPE citext,
                       ALTER COLUMN status TYPE mig.status2 USING status::text::mig.status2;
DELETE FROM mig.orders WHERE mig_org = 2601 AND id = 2;
UPDATE mig.orders SET amount = 1 WHERE mig_org = 2601;
SELECT * FROM tenant_backup.backup_restore(:b1);
-- Exactly the archived rows, in the types of now; the other tenant untouched.
SELECT (SELECT count(*) FROM (SELECT r FROM org1_at_b1 EXCEPT SELECT * FROM mig.orders_of(2601)) m) AS missing,
       (SELECT count(*) FROM (SELECT * FROM mig.orders_of(2601) EXCEPT SELECT r FROM org1_at_b1) u) AS unexpected;
SELECT id, pg_typeof(id) AS id_type, amount, pg_typeof(email) AS email_type, email = 'ann@example.com' AS citext_matches,
       status, pg_typeof(status) AS status_type
FROM mig.orders ORDER BY id;

------------------------------------------------------------------------------------------------
-- Row "refused, the row's key named": a value that does not convert; nothing is restored.
------------------------------------------------------------------------------------------------
UPDATE mig.orders SET amount = 7 WHERE mig_org = 2601;
CREATE TABLE org1_damaged AS SELECT * FROM mig.orders_of(2601) r;
-- 99999.99 does not fit numeric(6,2): the row with key (id)=(2).
ALTER TABLE mig.orders ALTER COLUMN amount TYPE numeric(6,2);
SELECT * FROM tenant_backup.backup_restore(:b1);
ALTER TABLE mig.orders ALTER COLUMN amount TYPE numeric(14,2);
-- 'void' is no label of the enum of now: the row with key (id)=(3).
CREATE TYPE mig.status3 AS ENUM ('new', 'paid', 'cancelled');
ALTER TABLE mig.orders ALTER COLUMN status TYPE mig.status3
    USING (CASE WHEN status::text = 'void' THEN 'cancelled' ELSE status::text END)::mig.status3;
SELECT * FROM tenant_backup.backup_restore(:b1);
-- A restore drill says the same.
SELECT ok, tables, rows, error FROM tenant_backup.backup_drill(:b1);
-- backup_status: the newest backup would not restore, so the tenant is unprotected.
SELECT last_backup_id = :b1 AS newest, last_drill_ok, last_drill_error IS NOT NULL AS has_reason,
       last_drill_at IS NOT NULL AS drilled, unprotected
FROM tenant_backup.backup_status WHERE tenant = '2601';
ALTER TABLE mig.orders ALTER COLUMN status TYPE mig.status2
    USING (CASE WHEN status::text = 'cancelled' THEN 'void' ELSE status::text END)::mig.status2;
-- Neither the restores nor the drill changed a row.
SELECT (SELECT count(*) FROM (SELECT r FROM org1_damaged EXCEPT SELECT * FROM mig.orders_of(2601)) m) AS missing,
       (SELECT count(*) FROM (SELECT * FROM mig.orders_of(2601) EXCEPT SELECT r FROM org1_damaged) u) AS unexpected;

------------------------------------------------------------------------------------------------
-- Row "refused when planned": no assignment cast, and neither type a string or an enum type.
------------------------------------------------------------------------------------------------
ALTER TABLE mig.orders ALTER COLUMN amount TYPE boolean USING amount > 5;
SELECT * FROM tenant_backup.backup_restore(:b1);
SELECT ok, error FROM tenant_backup.backup_drill(:b1);
ALTER TABLE mig.orders ALTER COLUMN amount TYPE numeric(14,2) USING CASE WHEN amount THEN 7 ELSE 5 END;

------------------------------------------------------------------------------------------------
-- Row "new NOT NULL column without a default": named when planned.
------------------------------------------------------------------------------------------------
ALTER TABLE mig.orders ADD COLUMN region text NOT NULL DEFAULT 'eu';
ALTER TABLE mig.orders ALTER COLUMN region DROP DEFAULT;
SELECT * FROM tenant_backup.backup_restore(:b1);
SELECT ok, error FROM tenant_backup.backup_drill(:b1);
-- With a default, the archived rows take it.
ALTER TABLE mig.orders ALTER COLUMN region SET DEFAULT 'eu';
SELECT ok, tables, rows, error FROM tenant_backup.backup_drill(:b1);
SELECT last_drill_ok, last_drill_error, unprotected FROM tenant_backup.backup_status WHERE tenant = '2601';
ALTER TABLE mig.orders DROP COLUMN region;

------------------------------------------------------------------------------------------------
-- Row "renamed": a table and a column renamed since are found again by the OID and attnum the
-- archive recorded, in the database the backup was taken in. An archive without them (here an
-- import of a download, as from another database) skips the table, saying how to map it; with
-- tenant_backup.restore_renames it is restored.
------------------------------------------------------------------------------------------------
SELECT string_agg(line || E'\n', '' ORDER BY n) AS doc
FROM (SELECT row_number() OVER () AS n, line FROM tenant_backup.backup_download(:b1) AS line) d \gset
SELECT tenant_backup.backup_import(:'doc') AS imported \gset
ALTER TABLE mig.notes RENAME TO memos;
ALTER TABLE mig.orders RENAME COLUMN code TO sku;
UPDATE mig.memos SET body = 'changed';
UPDATE mig.orders SET sku = NULL WHERE mig_org = 2601;
SELECT * FROM tenant_backup.backup_restore(:b1);
SELECT mig_org, body FROM mig.memos ORDER BY mig_org;
SELECT id, sku FROM mig.orders ORDER BY id;
SELECT ok, tables, rows, error FROM tenant_backup.backup_drill(:b1);
UPDATE mig.memos SET body = 'changed';
UPDATE mig.orders SET sku = NULL WHERE mig_org = 2601;
SELECT * FROM tenant_backup.backup_restore(:imported);
SELECT * FROM tenant_backup.backup_restore(:imported, strict => true);
SET tenant_backup.restore_renames = 'mig.notes=mig.memos, mig.orders.code=sku';
SELECT * FROM tenant_backup.backup_restore(:imported);
SELECT mig_org, body FROM mig.memos ORDER BY mig_org;
SELECT id, sku FROM mig.orders ORDER BY id;
-- A mapping to a table that does not exist, and one that is no mapping.
SET tenant_backup.restore_renames = 'mig.notes=mig.nowhere';
SELECT * FROM tenant_backup.backup_restore(:imported);
SET tenant_backup.restore_renames = 'notes=memos';
SELECT * FROM tenant_backup.backup_restore(:imported);
-- A mapping of a column that still exists is refused: it would load its archived values into
-- another column, past that column's triggers (the swap of two columns' values).
SET tenant_backup.restore_renames = 'mig.notes=mig.memos, mig.orders.code=sku, mig.orders.amount=sku';
SELECT * FROM tenant_backup.backup_restore(:imported);
RESET tenant_backup.restore_renames;
ALTER TABLE mig.memos RENAME TO notes;
ALTER TABLE mig.orders RENAME COLUMN sku TO code;

------------------------------------------------------------------------------------------------
-- Row "dropped table": skipped with a WARNING and listed with NULL counts; strict => true
-- refuses instead, and nothing is restored.
------------------------------------------------------------------------------------------------
UPDATE mig.orders SET amount = 7 WHERE mig_org = 2601;
DROP TABLE mig.notes;
SELECT * FROM tenant_backup.backup_restore(:b1, strict => true);
SELECT (SELECT count(*) FROM (SELECT * FROM mig.orders_of(2601) EXCEPT SELECT r FROM org1_damaged) u) AS changed;
SELECT * FROM tenant_backup.backup_restore(:b1);
SELECT (SELECT count(*) FROM (SELECT r FROM org1_at_b1 EXCEPT SELECT * FROM mig.orders_of(2601)) m) AS missing,
       (SELECT count(*) FROM (SELECT * FROM mig.orders_of(2601) EXCEPT SELECT r FROM org1_at_b1) u) AS unexpected;
SELECT ok, tables, rows, error FROM tenant_backup.backup_drill(:b1);

------------------------------------------------------------------------------------------------
-- Drills: audited; a drill needs what a restore needs; after a compatible change it is ok.
------------------------------------------------------------------------------------------------
SELECT action, outcome, backup_id = :b1 AS of_b1, error IS NOT NULL AS has_error
FROM tenant_backup.backup_audit WHERE action = 'drill' ORDER BY id;
CREATE ROLE mig_nobody;
SET ROLE mig_nobody;
SELECT * FROM tenant_backup.backup_drill(:b1);
RESET ROLE;
DROP ROLE mig_nobody;
SELECT tenant_backup.backup_drill(NULL);
SELECT tenant_backup.backup_drill(-1);

------------------------------------------------------------------------------------------------
-- A conversion through text does not depend on the session's settings: a text column that
-- became a date converts with DateStyle ISO, MDY whatever the session says (as in an
-- asynchronous job's worker or a scheduled drill), and the session's DateStyle is as before after.
------------------------------------------------------------------------------------------------
CREATE TABLE mig.events (mig_org integer NOT NULL, id integer PRIMARY KEY, happened text);
CREATE INDEX ON mig.events (mig_org);
INSERT INTO mig.events VALUES (2603, 1, '03/04/2024'), (2603, 2, '2024-12-31');
SELECT tenant_backup.backup_create('2603') AS b3 \gset
ALTER TABLE mig.events ALTER COLUMN happened TYPE date USING happened::date;
SET datestyle = 'ISO, DMY';
SELECT table_name, rows_restored FROM tenant_backup.backup_restore(:b3);
SHOW datestyle;
RESET datestyle;
SELECT id, happened FROM mig.events ORDER BY id; -- 2024-03-04: March 4th, as MDY reads it
DROP TABLE mig.events;

RESET tenant_backup.tenant_column;
DROP TABLE org1_at_b1, org1_damaged;
SELECT count(*) FROM (SELECT tenant_backup.backup_delete(id) FROM tenant_backup.backups WHERE id > 26000) d;
DROP SCHEMA mig CASCADE;
DROP EXTENSION citext;
