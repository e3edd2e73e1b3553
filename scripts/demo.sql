-- tenant_backup demo: a small SaaS schema, three tenants; back up one, damage it, restore it;
-- a nightly schedule with retention; the four permissions of a tenant's admin (restore denied,
-- then granted); download and import; a damaged archive file refused. scripts/demo.sh runs it
-- with tenant_backup preloaded and an encryption key (@DEMO_DIR@ is its scratch directory).
\set ON_ERROR_STOP on
\pset footer off
CREATE EXTENSION tenant_backup;

CREATE TABLE tenants   (tenant_id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        tenant_id int NOT NULL REFERENCES tenants, name text NOT NULL, email text);
CREATE TABLE invoices  (id bigserial PRIMARY KEY, tenant_id int NOT NULL REFERENCES tenants,
                        customer_id bigint NOT NULL REFERENCES customers, amount numeric(12,2) NOT NULL,
                        vat numeric(12,2) GENERATED ALWAYS AS (round(amount * 0.16, 2)) STORED,
                        issued_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE events    (tenant_id int NOT NULL, at timestamptz NOT NULL, payload jsonb)
                        PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE INDEX ON customers (tenant_id);
CREATE INDEX ON invoices (tenant_id);
CREATE INDEX ON events (tenant_id);

INSERT INTO tenants VALUES (1, 'Acme Logistics'), (2, 'Globex Fleet'), (3, 'Initech ERP');
INSERT INTO customers (tenant_id, name, email)
SELECT 1 + g % 3, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 300) g;
INSERT INTO invoices (tenant_id, customer_id, amount)
SELECT c.tenant_id, c.id, (c.id * 7) % 1000 + 0.99 FROM customers c, generate_series(1, 5);
INSERT INTO events
SELECT 1 + g % 3, timestamptz '2026-06-01' + g * interval '1 day', jsonb_build_object('kind', 'login', 'n', g)
FROM generate_series(1, 500) g;

\echo
\echo '== What a backup of a tenant contains (tenant_backup.backup_tables())'
SELECT * FROM tenant_backup.backup_tables();

CREATE TEMP TABLE before AS
SELECT 'customers' AS t, count(*) AS n, md5(string_agg(c::text, ',' ORDER BY id)) AS digest FROM customers c WHERE tenant_id = 1
UNION ALL SELECT 'invoices', count(*), md5(string_agg(i::text, ',' ORDER BY id)) FROM invoices i WHERE tenant_id = 1
UNION ALL SELECT 'events', count(*), md5(string_agg(e::text, ',' ORDER BY at)) FROM events e WHERE tenant_id = 1;

\echo
\echo '== Back up tenant 1 (Acme Logistics)'
SELECT tenant_backup.backup_create('1', 'before the big import') AS backup_id \gset
SELECT id, tenant, kind, label, status, row_count, size_bytes, compression, encrypted,
       left(sha256, 16) || '…' AS sha256
FROM tenant_backup.backup_list('1');

\echo
\echo '== Verify it end to end: checksum, every encrypted chunk, every row decoded'
SELECT * FROM tenant_backup.backup_verify(:backup_id);

\echo
\echo '== Damage tenant 1: a bad import renames customers, deletes invoices, adds junk events'
UPDATE customers SET name = 'OOPS' WHERE tenant_id = 1 AND id % 2 = 0;
DELETE FROM invoices WHERE tenant_id = 1 AND amount > 500;
INSERT INTO events SELECT 1, '2027-03-01', '{"kind": "junk"}' FROM generate_series(1, 50);
SELECT b.t AS table_name, b.n AS rows_before, a.n AS rows_now, a.digest = b.digest AS unchanged
FROM before b JOIN (
  SELECT 'customers' AS t, count(*) AS n, md5(string_agg(c::text, ',' ORDER BY id)) AS digest FROM customers c WHERE tenant_id = 1
  UNION ALL SELECT 'invoices', count(*), md5(string_agg(i::text, ',' ORDER BY id)) FROM invoices i WHERE tenant_id = 1
  UNION ALL SELECT 'events', count(*), md5(string_agg(e::text, ',' ORDER BY at)) FROM events e WHERE tenant_id = 1) a USING (t);

\echo
\echo '== Restore tenant 1 from the backup (checks the archive''s SHA-256 first)'
SELECT * FROM tenant_backup.backup_restore(:backup_id);

SELECT b.t AS table_name, b.n AS rows_before, a.n AS rows_now, a.digest = b.digest AS identical
FROM before b JOIN (
  SELECT 'customers' AS t, count(*) AS n, md5(string_agg(c::text, ',' ORDER BY id)) AS digest FROM customers c WHERE tenant_id = 1
  UNION ALL SELECT 'invoices', count(*), md5(string_agg(i::text, ',' ORDER BY id)) FROM invoices i WHERE tenant_id = 1
  UNION ALL SELECT 'events', count(*), md5(string_agg(e::text, ',' ORDER BY at)) FROM events e WHERE tenant_id = 1) a USING (t);

\echo
\echo '== Other tenants were never touched'
SELECT tenant_id, count(*) AS customers FROM customers GROUP BY tenant_id ORDER BY tenant_id;

\echo
\echo '== A nightly schedule with retention: 02:00 Berlin time, 7 daily, 4 weekly and 12 monthly restore points'
\o /dev/null
SELECT tenant_backup.backup_schedule_set('1', '0 2 * * *', 'Europe/Berlin', keep_last => 0, keep_daily => 7,
                                         keep_weekly => 4, keep_monthly => 12);
\o
SELECT tenant, cron, time_zone, keep_daily, keep_weekly, keep_monthly, next_run
FROM tenant_backup.backup_schedules('1');
\echo '   (a scheduler serves this database: tenant_backup is preloaded, and serves every database with the extension)'
SELECT tenant, scheduled, next_run, last_backup_at::timestamp(0), served_by_scheduler
FROM tenant_backup.backup_status WHERE tenant = '1';

\echo
\echo '== The four permissions: acme_admin, the admin of tenant 1 in the application, may view, create and download'
CREATE ROLE acme_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO acme_admin;
GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO acme_admin;
\o /dev/null
SELECT tenant_backup.backup_grant('acme_admin', p, '1')
FROM unnest(ARRAY['backup.view', 'backup.create', 'backup.download']) p;
\o
SELECT role, permission, tenant FROM tenant_backup.backup_grants() WHERE role = 'acme_admin'::regrole;
SET ROLE acme_admin;
\echo '   Its "Settings -> Data & Backup" page:'
SELECT format('next backup at %s (Berlin time), last backup %s', to_char(next_run AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI'),
              to_char(last_backup_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI')) AS settings_page
FROM tenant_backup.backup_status WHERE tenant = '1';
\echo '   It backs up its tenant, and sees only its own backups:'
SELECT tenant_backup.backup_create('1', 'before the cleanup') AS acme_backup \gset
SELECT id, tenant, label, status FROM tenant_backup.backup_list() ORDER BY id;
\echo '   A restore is refused: backup.restore (which overwrites the tenant) is granted separately'
\set ON_ERROR_STOP off
SELECT * FROM tenant_backup.backup_restore(:acme_backup);
\set ON_ERROR_STOP on
RESET ROLE;
\echo '   A backup admin grants it:'
\o /dev/null
SELECT tenant_backup.backup_grant('acme_admin', 'backup.restore', '1');
\o
SELECT role, permission, tenant FROM tenant_backup.backup_grants() WHERE role = 'acme_admin'::regrole;
SET ROLE acme_admin;
\echo '   Granted: the restore runs'
SELECT * FROM tenant_backup.backup_restore(:acme_backup);

\echo
\echo '== Download: the backup as one JSON document (a line per row), written verbatim to a file'
\pset format unaligned
\pset tuples_only on
\o @DEMO_DIR@/acme.json
SELECT * FROM tenant_backup.backup_download(:acme_backup);
\o
\pset format aligned
\pset tuples_only off
\! printf '   %s lines, %s bytes; the first: ' "$(wc -l < @DEMO_DIR@/acme.json)" "$(wc -c < @DEMO_DIR@/acme.json)"; head -c 150 @DEMO_DIR@/acme.json; echo ' ...'

\echo
\echo '== Import: the file handed back (as a large object, any size) becomes a new backup of tenant 1'
\lo_import @DEMO_DIR@/acme.json
SELECT tenant_backup.backup_import_large_object(:LASTOID) AS imported \gset
SELECT lo_unlink(:LASTOID);
SELECT id, tenant, kind, label, status, row_count, encrypted FROM tenant_backup.backup_list('1') WHERE id = :imported;
SELECT * FROM tenant_backup.backup_restore(:imported);
RESET ROLE;

\echo
\echo '== A damaged archive file is refused before any row is touched'
SELECT CASE WHEN r LIKE '/%' THEN r ELSE current_setting('data_directory') || '/' || r END || '/' || b.object_name
       AS archive_path, b.size_bytes / 2 AS middle
FROM tenant_backup.backups b, current_setting('tenant_backup.repository') r WHERE b.id = :backup_id \gset
\setenv ARCHIVE :archive_path
\setenv MIDDLE :middle
\! printf '   overwriting 8 bytes in the middle of %s\n' "$(basename "$ARCHIVE")"; printf 'DAMAGED!' | dd of="$ARCHIVE" bs=1 seek="$MIDDLE" conv=notrunc status=none
\set ON_ERROR_STOP off
SELECT * FROM tenant_backup.backup_restore(:backup_id);
\set ON_ERROR_STOP on
SELECT ok, error FROM tenant_backup.backup_verify(:backup_id);

\echo
\echo '== The catalog'
SELECT id, tenant, kind, status, created_at::timestamp(0) AS created_at, row_count, size_bytes, encrypted,
       verify_status, jsonb_path_query_array(tables, '$[*].name') AS tables
FROM tenant_backup.backup_list();
\echo
\echo '== The audit trail: every action, and every denied or failed attempt'
-- (denied and failed attempts are written from a queue by the scheduler, within moments)
\! sleep 2
SELECT at::timestamp(0), current_user_name AS by_role, action, tenant, outcome
FROM tenant_backup.backup_audit ORDER BY id;
