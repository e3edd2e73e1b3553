-- tenant_backup demo: a small SaaS schema, three tenants; back up one, damage it, restore it.
\set ON_ERROR_STOP on
\pset footer off
CREATE EXTENSION tenant_backup;
-- Encrypt backups. In production the master key comes from a file outside the data directory
-- (tenant_backup.encryption_key_file, mode 0600) or a KMS command; here a fixed demo key.
SET tenant_backup.encryption_key_command = 'echo 6d656d6f206b6579206f6e6c792e2e2e6d656d6f206b6579206f6e6c792e2e2e';

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
\echo '== A tampered archive is refused before any row is touched'
UPDATE tenant_backup.backups SET sha256 = repeat('0', 64) WHERE id = :backup_id;
\set ON_ERROR_STOP off
SELECT * FROM tenant_backup.backup_restore(:backup_id);
\set ON_ERROR_STOP on

\echo
\echo '== The catalog'
SELECT id, tenant, status, created_at::timestamp(0) AS created_at, row_count, size_bytes, encrypted,
       verify_status, jsonb_path_query_array(tables, '$[*].name') AS tables, location
FROM tenant_backup.backup_list();
