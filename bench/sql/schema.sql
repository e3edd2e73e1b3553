-- tenant_backup benchmark: a multi-tenant SaaS schema and the tenant size distribution.
-- psql variables: scale (numeric), variant: direct (every table has tenant_id) or path (order_lines
-- has none; its rows are found through orders). Deterministic: no random() here.
\set ON_ERROR_STOP on
SELECT :'variant' = 'path' AS path_variant \gset
\if :path_variant
\set order_lines_tenant ''
\else
\set order_lines_tenant 'tenant_id  int NOT NULL,'
\endif
SET client_min_messages = warning;
CREATE EXTENSION tenant_backup;

-- Helper objects of the benchmark live in schema bench and have no tenant_id column,
-- so tenant_backup does not take them for tenant tables.
CREATE SCHEMA bench;
CREATE TABLE bench.params (name text PRIMARY KEY, value numeric NOT NULL);
INSERT INTO bench.params VALUES
  ('customers',   round(500000  * :scale)),
  ('products',    round(200000  * :scale)),
  ('orders',      round(2000000 * :scale)),   -- order_lines: 1..4 per order, 2.5 on average
  ('events',      round(2500000 * :scale));
INSERT INTO bench.params
SELECT 'total_rows', sum(CASE name WHEN 'orders' THEN value * 3.5 ELSE value END) FROM bench.params;
-- ~20% of all rows belong to small tenants of ~1,000 rows each.
INSERT INTO bench.params
SELECT 'small_tenants', greatest(10, floor(0.20 * value / 1000)) FROM bench.params WHERE name = 'total_rows';

-- Every table uses the same tenant distribution: a row belongs to tenant tid with probability
-- share. tid 1 and 2 are the large tenants (12% and 10% of all rows), 3..50 medium ones
-- (geometric, 0.9^i), 51.. small ones (1,000 rows expected each).
CREATE TABLE bench.tenant_share (tid int PRIMARY KEY, kind text NOT NULL, share float8 NOT NULL, lo float8);
WITH p AS (SELECT (SELECT value FROM bench.params WHERE name = 'total_rows')::float8 AS total,
                  (SELECT value FROM bench.params WHERE name = 'small_tenants')::int AS nsmall),
     med AS (SELECT 1 - 0.22 - p.nsmall * 1000 / p.total AS share FROM p)
INSERT INTO bench.tenant_share (tid, kind, share)
SELECT 1, 'large', 0.12
UNION ALL SELECT 2, 'large', 0.10
UNION ALL SELECT 2 + i, 'medium', med.share * 0.9 ^ (i - 1) * (1 - 0.9) / (1 - 0.9 ^ 48)
          FROM med, generate_series(1, 48) i
UNION ALL SELECT 50 + i, 'small', 1000 / p.total FROM p, generate_series(1, p.nsmall) i;
UPDATE bench.tenant_share s SET lo = c.lo
FROM (SELECT tid, coalesce(sum(share) OVER (ORDER BY tid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS lo
      FROM bench.tenant_share) c
WHERE c.tid = s.tid;
-- width_bucket(random(), thresholds) maps a uniform random number to a tenant id.
CREATE TABLE bench.thresholds AS SELECT array_agg(lo ORDER BY tid) AS thr FROM bench.tenant_share;

CREATE TABLE tenants (
  tenant_id  int PRIMARY KEY,
  name       text NOT NULL,
  plan       text NOT NULL,
  created_at timestamptz NOT NULL,
  settings   jsonb NOT NULL
);
CREATE TABLE customers (
  id         bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id  int NOT NULL,
  name       text NOT NULL,
  email      text NOT NULL,
  country    text NOT NULL,
  balance    numeric(12,2) NOT NULL,
  created_at timestamptz NOT NULL,
  avatar     bytea
);
CREATE TABLE products (
  id           bigserial,
  tenant_id    int NOT NULL,
  sku          text NOT NULL,
  name         text NOT NULL,
  price        numeric(10,2) NOT NULL,
  attributes   jsonb NOT NULL,
  image_sha256 bytea NOT NULL,
  created_at   timestamptz NOT NULL
);
CREATE TABLE orders (
  id          bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id   int NOT NULL,
  customer_id bigint NOT NULL,
  status      text NOT NULL,
  total       numeric(12,2) NOT NULL,
  currency    text NOT NULL,
  ordered_at  timestamptz NOT NULL,
  note        text
);
CREATE TABLE order_lines (
  id         bigserial,
  :order_lines_tenant
  order_id   bigint NOT NULL,
  product_id bigint NOT NULL,
  quantity   int NOT NULL,
  unit_price numeric(10,2) NOT NULL,
  discount   numeric(5,2) NOT NULL
);
-- The variant, for the other scripts: order_lines without the tenant column.
CREATE FUNCTION bench.path_variant() RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.order_lines'::regclass
                                                     AND attname = 'tenant_id' AND NOT attisdropped) $$;
CREATE TABLE events (
  id          bigserial,
  tenant_id   int NOT NULL,
  occurred_at timestamptz NOT NULL,
  kind        text NOT NULL,
  actor_id    bigint,
  payload     jsonb NOT NULL
);

INSERT INTO tenants
SELECT tid, 'Tenant ' || tid || ' ' || (ARRAY['GmbH','Inc.','Ltd','SAS','S.A.','Oy'])[1 + tid % 6],
       CASE kind WHEN 'large' THEN 'enterprise' WHEN 'medium' THEN 'business' ELSE 'starter' END,
       timestamptz '2019-01-01' + tid * interval '37 minutes',
       jsonb_build_object('locale', (ARRAY['en','de','fr','es'])[1 + tid % 4], 'seats', 5 + tid % 200,
                          'features', jsonb_build_array('export', 'api', CASE WHEN tid % 3 = 0 THEN 'sso' END))
FROM bench.tenant_share;
