-- tenant_backup regression tests, part 3: backup and restore of one tenant of the app schema
-- (01_setup_and_tables): the catalog row, a round trip after damage in every table, other
-- tenants untouched, sequences, generated columns, user triggers, an empty tenant, listing and
-- deleting backups, and transactions.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
-- Backup ids printed in this file start at 3001, whatever ran before.
SELECT setval('tenant_backup.backups_id_seq', 3000) AS id_base \gset

-- User triggers, which a restore must not fire:
--  * a log of changes in a shared table (row and statement level),
--  * a BEFORE INSERT trigger that rewrites the product name of an order line,
--  * a BEFORE DELETE trigger that forbids deleting a tenant.
CREATE FUNCTION app.log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.trigger_log (tbl, op) VALUES (TG_TABLE_NAME, TG_OP);
    RETURN NULL;
END
$$;
CREATE FUNCTION app.mark_product() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.product := NEW.product || ' (via trigger)';
    RETURN NEW;
END
$$;
CREATE FUNCTION app.forbid_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tenants are never deleted (trigger on %)', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER customers_log AFTER INSERT OR UPDATE OR DELETE ON app.customers
    FOR EACH ROW EXECUTE FUNCTION app.log_change();
CREATE TRIGGER orders_log AFTER INSERT OR DELETE ON app.orders
    FOR EACH STATEMENT EXECUTE FUNCTION app.log_change();
CREATE TRIGGER events_log AFTER INSERT OR DELETE ON app.events
    FOR EACH ROW EXECUTE FUNCTION app.log_change();
CREATE TRIGGER order_lines_mark BEFORE INSERT ON app.order_lines
    FOR EACH ROW EXECUTE FUNCTION app.mark_product();
CREATE TRIGGER tenants_forbid_delete BEFORE DELETE ON app.tenants
    FOR EACH ROW EXECUTE FUNCTION app.forbid_delete();

-- The rows of tenant 1 as they are now.
SELECT tbl, count(*) FROM app.tenant_rows(ARRAY[1]) GROUP BY tbl ORDER BY tbl;
CREATE TABLE t1_before AS SELECT * FROM app.tenant_rows(ARRAY[1]);

------------------------------------------------------------------------------------------------
-- The backup and its catalog row.
------------------------------------------------------------------------------------------------
SELECT tenant_backup.backup_create('1', 'before damage') AS bid \gset
SELECT id = :bid AS id_returned, tenant, kind, label, status, row_count,
       sha256 ~ '^[0-9a-f]{64}$' AS has_sha, size_bytes > 0 AS has_size, compression, repository,
       object_name ~ ('^[0-9]+/[0-9]+/' || id || '-[0-9a-f]{16}\.tbk$') AS object_name_ok,
       location LIKE '%/' || object_name AS location_ok,
       created_at <= snapshot_at AND snapshot_at <= finished_at AS times_ordered,
       server_version = current_setting('server_version') AS server_version_ok,
       error IS NULL AS no_error, pinned, keep_until
FROM tenant_backup.backups WHERE id = :bid;
-- The archive is in the repository.
SELECT (pg_stat_file(location)).size = size_bytes AS archive_size_ok FROM tenant_backup.backups WHERE id = :bid;
-- Per table: rows and columns. Generated columns (order_lines.total) are not stored.
SELECT t->>'schema' AS schema, t->>'name' AS name, t->>'tenant_column' AS tenant_column,
       (t->>'rows')::int AS rows, jsonb_array_length(t->'columns') AS columns
FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t WHERE b.id = :bid;
SELECT c->>'name' AS name, c->>'type' AS type
FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t, jsonb_array_elements(t->'columns') c
WHERE b.id = :bid AND t->>'name' IN ('customers', 'order_lines');
SELECT jsonb_path_query(tables, '$[*] ? (@.name == "events").columns[*].name') AS event_columns
FROM tenant_backup.backups WHERE id = :bid;
SELECT sum((t->>'rows')::int) = row_count AS rows_add_up
FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t WHERE b.id = :bid GROUP BY row_count;
-- A backup fires no trigger and changes no data.
SELECT count(*) AS trigger_log_rows FROM app.trigger_log;
SELECT * FROM app.diff('t1_before', ARRAY[1]);

------------------------------------------------------------------------------------------------
-- Damage tenant 1 in every table (updates, deletes, inserts, a row moving between partitions).
------------------------------------------------------------------------------------------------
UPDATE app.tenants SET name = 'Acme (renamed)' WHERE tenant_id = 1;
UPDATE app.customers SET email = 'hacked@evil.example', active = false WHERE tenant_id = 1 AND name = 'Alice';
DELETE FROM app.orders WHERE tenant_id = 1 AND note = 'gift wrap';   -- its line goes by cascade
INSERT INTO app.customers (tenant_id, name, country) VALUES (1, 'Mallory', 'XX');
INSERT INTO app.orders (tenant_id, customer_id, placed_on, note)
    SELECT 1, id, '2025-01-01', 'fraud' FROM app.customers WHERE name = 'Mallory';
INSERT INTO app.order_lines (tenant_id, order_id, product, qty, unit_price)
    SELECT 1, id, 'gold bars', 100, 999.99 FROM app.orders WHERE note = 'fraud';
UPDATE app.order_lines SET qty = qty * 10 WHERE tenant_id = 1 AND product = 'anvil';
DELETE FROM app.events WHERE tenant_id = 1 AND kind = 'signup';
UPDATE app.events SET happened_on = '2023-02-02' WHERE tenant_id = 1 AND kind = 'future';
INSERT INTO app.events (tenant_id, happened_on, kind) VALUES (1, '2027-07-07', 'intrusion');
DELETE FROM app.notes WHERE tenant_id = '1';
UPDATE app.metrics SET value = -1 WHERE tenant_id = 1;
INSERT INTO app.metrics VALUES (1, 'bogus', 0);
-- Meanwhile other tenants change too: the restore of tenant 1 must keep their changes.
INSERT INTO app.customers (tenant_id, name) VALUES (2, 'Homer');
UPDATE app.events SET kind = 'login (2)' WHERE tenant_id = 2 AND kind = 'login';
DELETE FROM app.notes WHERE tenant_id = '3';
-- The user triggers did fire for these ordinary statements.
SELECT tbl, op, count(*) FROM app.trigger_log GROUP BY tbl, op ORDER BY tbl, op;
SELECT product FROM app.order_lines WHERE tenant_id = 1 AND product LIKE '%trigger%';
DELETE FROM app.trigger_log;
SELECT * FROM app.diff('t1_before', ARRAY[1]);
CREATE TABLE t1_damaged AS SELECT * FROM app.tenant_rows(ARRAY[1]);
CREATE TABLE others_before AS SELECT * FROM app.tenant_rows(ARRAY[2, 3]);
-- Sequence positions before the restore (a restore never moves a sequence backwards).
SELECT last_value AS customers_seq_before FROM app.customers_id_seq \gset

------------------------------------------------------------------------------------------------
-- A restore in a transaction that is rolled back changes nothing.
------------------------------------------------------------------------------------------------
BEGIN;
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
-- Triggers are back on for the rest of the transaction.
SHOW session_replication_role;
ROLLBACK;
SELECT * FROM app.diff('t1_damaged', ARRAY[1]);
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);

------------------------------------------------------------------------------------------------
-- The restore: per table, the rows of the tenant removed and the rows restored.
------------------------------------------------------------------------------------------------
SELECT * FROM tenant_backup.backup_restore(:bid);
-- Tenant 1 is exactly as it was at the backup (EXCEPT ALL both ways), table by table ...
SELECT count(*) AS missing FROM (SELECT * FROM t1_before EXCEPT ALL SELECT * FROM app.tenant_rows(ARRAY[1])) d;
SELECT count(*) AS unexpected FROM (SELECT * FROM app.tenant_rows(ARRAY[1]) EXCEPT ALL SELECT * FROM t1_before) d;
SELECT tbl, count(*) FROM app.tenant_rows(ARRAY[1]) GROUP BY tbl ORDER BY tbl;
-- ... the other tenants are exactly as they were before the restore ...
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);
-- ... and the shared tables were not touched.
SELECT count(*) AS countries FROM app.countries;
-- Events are in the partitions their dates belong to.
SELECT tableoid::regclass AS partition, happened_on, kind FROM app.events WHERE tenant_id = 1 ORDER BY happened_on;
-- A few rows in full, binary types included.
SELECT name, country, email, signed_up, active, avatar FROM app.customers WHERE tenant_id = 1 ORDER BY id;
SELECT product, qty, unit_price, total FROM app.order_lines WHERE tenant_id = 1 ORDER BY id;

-- No user trigger fired during the restore (the tenant's row was deleted and reinserted despite
-- the BEFORE DELETE trigger; products were not rewritten), and triggers are on again after it.
SELECT count(*) AS trigger_log_rows FROM app.trigger_log;
SHOW session_replication_role;

-- The generated column was computed by the restore, for every row.
SELECT count(*) FILTER (WHERE total IS DISTINCT FROM qty * unit_price) AS wrong_totals FROM app.order_lines;

-- Sequences: never moved backwards ...
SELECT last_value >= :customers_seq_before AS customers_seq_not_backwards FROM app.customers_id_seq;
-- ... and past the restored ids: orders has id 1000 (inserted with an explicit id) again.
SELECT last_value >= 1000 AS orders_seq_past_1000 FROM app.orders_id_seq;

-- New rows get ids larger than every existing id (identity ALWAYS, BY DEFAULT, serial, and the
-- identity of the partitioned table); the triggers fire again for them.
INSERT INTO app.customers (tenant_id, name) VALUES (1, 'Dave')
RETURNING id > (SELECT max(id) FROM app.customers) AS customer_id_is_new;
INSERT INTO app.orders (tenant_id, customer_id, placed_on)
    SELECT 1, id, '2025-05-05' FROM app.customers WHERE name = 'Dave'
RETURNING id > 1000 AS order_id_is_new;
INSERT INTO app.order_lines (tenant_id, order_id, product, qty, unit_price)
    SELECT 1, id, 'widget', 3, 1.50 FROM app.orders WHERE placed_on = '2025-05-05'
RETURNING id > (SELECT max(id) FROM app.order_lines) AS line_id_is_new, product, total;
INSERT INTO app.events (tenant_id, happened_on, kind) VALUES (1, '2024-12-24', 'after restore')
RETURNING id > (SELECT max(id) FROM app.events) AS event_id_is_new;
SELECT tbl, op, count(*) FROM app.trigger_log GROUP BY tbl, op ORDER BY tbl, op;
-- (The BEFORE DELETE trigger that the restore did not fire does fire for a DELETE.)
DELETE FROM app.tenants WHERE tenant_id = 1;

------------------------------------------------------------------------------------------------
-- Sequences that are behind the restored ids (e.g. reset since the backup) are moved past them.
------------------------------------------------------------------------------------------------
SELECT setval('app.order_lines_id_seq', 2) IS NOT NULL AS reset,
       setval('app.events_id_seq', 1) IS NOT NULL AS reset,
       setval('app.notes_note_id_seq', 1, false) IS NOT NULL AS reset;
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
-- Tenant 1 holds the largest ids of these tables, so new ids are larger than every existing one.
INSERT INTO app.order_lines (tenant_id, order_id, product, qty, unit_price) VALUES (1, 4, 'bolt', 1, 0.10)
RETURNING id > (SELECT max(id) FROM app.order_lines) AS line_id_is_new;
INSERT INTO app.events (tenant_id, happened_on, kind) VALUES (1, '2024-02-29', 'leap')
RETURNING id > (SELECT max(id) FROM app.events) AS event_id_is_new;
INSERT INTO app.notes (tenant_id, body) VALUES ('1', 'after reset')
RETURNING note_id > (SELECT max(note_id) FROM app.notes) AS note_id_is_new;

------------------------------------------------------------------------------------------------
-- An uncompressed archive (compression_level 0) restores the same.
------------------------------------------------------------------------------------------------
SET tenant_backup.compression_level = 0;
SELECT tenant_backup.backup_create('1', 'uncompressed') AS bid_raw \gset
RESET tenant_backup.compression_level;
SELECT compression, row_count FROM tenant_backup.backups WHERE id = :bid_raw;
-- It holds the 3 rows inserted above on top of the restored ones.
SELECT row_count - (SELECT row_count FROM tenant_backup.backups WHERE id = :bid) AS more_rows
FROM tenant_backup.backups WHERE id = :bid_raw;
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT * FROM tenant_backup.backup_restore(:bid_raw);
SELECT count(*) AS new_rows_back FROM app.tenant_rows(ARRAY[1]) WHERE r LIKE '%bolt%' OR r LIKE '%leap%' OR r LIKE '%after reset%';
SELECT * FROM tenant_backup.backup_restore(:bid);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);

------------------------------------------------------------------------------------------------
-- An empty tenant is a valid backup; restoring it removes rows added since.
------------------------------------------------------------------------------------------------
SELECT tenant_backup.backup_create('4', 'empty') AS bid_empty \gset
SELECT status, row_count, sha256 ~ '^[0-9a-f]{64}$' AS has_sha,
       (SELECT count(*) FROM jsonb_array_elements(tables) t WHERE (t->>'rows')::int = 0) AS empty_tables
FROM tenant_backup.backups WHERE id = :bid_empty;
INSERT INTO app.tenants VALUES (4, 'Umbrella');
INSERT INTO app.customers (tenant_id, name) VALUES (4, 'Wesker');
INSERT INTO app.orders (tenant_id, customer_id, placed_on) SELECT 4, id, '2024-04-04' FROM app.customers WHERE name = 'Wesker';
INSERT INTO app.events (tenant_id, happened_on, kind) VALUES (4, '2023-04-04', 'x'), (4, '2024-04-04', 'y');
INSERT INTO app.notes (tenant_id, body) VALUES ('4', 'n');
INSERT INTO app.metrics VALUES (4, 'users', 1);
SELECT * FROM tenant_backup.backup_restore(:bid_empty);
SELECT count(*) AS tenant_4_rows FROM app.tenant_rows(ARRAY[4]);
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);
DELETE FROM app.trigger_log;

------------------------------------------------------------------------------------------------
-- A bigger tenant (5, only in app.notes): 3000 rows of 1 kB and one 3 MB value (TOASTed), so
-- the archive holds many data records and a row split over several.
------------------------------------------------------------------------------------------------
INSERT INTO app.notes (tenant_id, body, tags)
    SELECT '5', repeat(md5(i::text), 32), ARRAY[i::text, 'bulk'] FROM generate_series(1, 3000) i;
INSERT INTO app.notes (tenant_id, body) SELECT '5', string_agg(md5(i::text), '') FROM generate_series(1, 98304) i;
CREATE TABLE t5_before AS SELECT * FROM app.tenant_rows(ARRAY[5]);
SELECT tenant_backup.backup_create('5', 'big') AS bid_big \gset
SELECT row_count, size_bytes > 0 AS has_size FROM tenant_backup.backups WHERE id = :bid_big;
DELETE FROM app.notes WHERE tenant_id = '5' AND tags[1]::int % 2 = 0;
UPDATE app.notes SET body = 'short' WHERE tenant_id = '5' AND length(body) > 1000000;
SELECT * FROM tenant_backup.backup_restore(:bid_big);
SELECT * FROM app.diff('t5_before', ARRAY[5]);
SELECT max(length(body)) AS longest_body FROM app.notes WHERE tenant_id = '5';
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);
DELETE FROM app.notes WHERE tenant_id = '5';
DROP TABLE t5_before;

------------------------------------------------------------------------------------------------
-- Listing: newest first per tenant; NULL lists every tenant.
------------------------------------------------------------------------------------------------
SELECT tenant_backup.backup_create('1', 'second') AS bid_2 \gset
SELECT tenant_backup.backup_create('1') AS bid_3 \gset
SELECT id - :id_base AS n, coalesce(label, '<null>') AS label, kind, status FROM tenant_backup.backup_list('1') WHERE id > :id_base;
SELECT count(*) = (SELECT count(*) FROM tenant_backup.backups) AS lists_all,
       array_agg(DISTINCT tenant ORDER BY tenant) AS tenants
FROM tenant_backup.backup_list(NULL);
SELECT count(*) AS all_by_default FROM tenant_backup.backup_list() WHERE id > :id_base;
SELECT count(*) AS unknown_tenant FROM tenant_backup.backup_list('no such tenant');
SELECT label FROM tenant_backup.backup_list('4');
-- Labels may be empty; labels and tenants are kept as given.
SELECT tenant_backup.backup_create('1', '') AS bid_4 \gset
SELECT label = '' AS empty_label FROM tenant_backup.backups WHERE id = :bid_4;

------------------------------------------------------------------------------------------------
-- Deleting a backup removes its row and, at commit, its archive.
------------------------------------------------------------------------------------------------
SELECT location AS bid_3_location FROM tenant_backup.backups WHERE id = :bid_3 \gset
SELECT tenant_backup.backup_delete(:bid_3);
SELECT count(*) AS rows_left FROM tenant_backup.backups WHERE id = :bid_3;
SELECT (pg_stat_file(:'bid_3_location', true)).size IS NULL AS archive_removed;
\set VERBOSITY terse
SELECT * FROM tenant_backup.backup_restore(:bid_3);
SELECT tenant_backup.backup_delete(:bid_3);
\set VERBOSITY default

-- A delete that is rolled back (whole transaction or savepoint) keeps the backup restorable.
SELECT location AS bid_2_location FROM tenant_backup.backups WHERE id = :bid_2 \gset
BEGIN;
SELECT tenant_backup.backup_delete(:bid_2);
SELECT count(*) AS rows_left FROM tenant_backup.backups WHERE id = :bid_2;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT tenant_backup.backup_delete(:bid_2);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT status, label FROM tenant_backup.backups WHERE id = :bid_2;
SELECT (pg_stat_file(:'bid_2_location', true)).size IS NOT NULL AS archive_kept;
UPDATE app.metrics SET value = 0 WHERE tenant_id = 1;
SELECT * FROM tenant_backup.backup_restore(:bid_2);
SELECT * FROM app.diff('t1_before', ARRAY[1]);

------------------------------------------------------------------------------------------------
-- A backup in a transaction (or savepoint) that is rolled back leaves no catalog row and no file.
------------------------------------------------------------------------------------------------
SELECT regexp_replace(location, '/[^/]*$', '') AS repo_dir FROM tenant_backup.backups WHERE id = :bid \gset
SELECT count(*) AS files_before FROM pg_ls_dir(:'repo_dir') \gset
SELECT count(*) AS backups_before FROM tenant_backup.backups \gset
BEGIN;
SELECT tenant_backup.backup_create('1', 'rolled back') > 0 AS created;
SELECT count(*) AS visible_inside FROM tenant_backup.backups WHERE label = 'rolled back';
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT tenant_backup.backup_create('1', 'rolled back to savepoint') > 0 AS created;
ROLLBACK TO SAVEPOINT s;
SELECT tenant_backup.backup_create('1', 'committed') > 0 AS created;
COMMIT;
SELECT count(*) - :backups_before AS new_rows, array_agg(label) FILTER (WHERE label LIKE 'rolled%') AS rolled_back
FROM tenant_backup.backups;
-- (two: the committed backup's archive and its record, docs/FORMAT.md "Repository records")
SELECT count(*) - :files_before AS new_files FROM pg_ls_dir(:'repo_dir');
-- The committed one is complete and restorable.
SELECT id AS bid_c FROM tenant_backup.backups WHERE label = 'committed' \gset
SELECT (pg_stat_file(location)).size = size_bytes AS archive_ok FROM tenant_backup.backups WHERE id = :bid_c;
SELECT * FROM tenant_backup.backup_restore(:bid_c);
SELECT * FROM app.diff('t1_before', ARRAY[1]);

-- Restoring twice in one transaction, and a failed restore rolled back to a savepoint, leave
-- triggers on.
BEGIN;
SELECT count(*) AS tables FROM tenant_backup.backup_restore(:bid);
SELECT count(*) AS tables FROM tenant_backup.backup_restore(:bid);
SAVEPOINT s;
\set VERBOSITY terse
SELECT count(*) FROM tenant_backup.backup_restore(-1);
\set VERBOSITY default
ROLLBACK TO SAVEPOINT s;
SHOW session_replication_role;
COMMIT;
SELECT * FROM app.diff('t1_before', ARRAY[1]);
SELECT * FROM app.diff('others_before', ARRAY[2, 3]);
SELECT count(*) AS trigger_log_rows FROM app.trigger_log;

DROP TABLE t1_before, t1_damaged, others_before;
