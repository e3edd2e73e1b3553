-- customers, products, orders, order_lines. Rows are inserted in one stream whose tenant is drawn
-- at random for each row, so every tenant's rows are spread over the whole table (interleaved),
-- as in a database that many tenants write to at the same time. Fixed seed: reproducible.
\set ON_ERROR_STOP on
SET work_mem = '512MB';
SET synchronous_commit = on;
SELECT setseed(0.4242);

INSERT INTO customers (tenant_id, name, email, country, balance, created_at, avatar)
SELECT t,
       (ARRAY['Anna','Ben','Chloé','David','Eva','Farid','Grace','Hiro','Ivan','Julia','Kofi','Lena'])[1 + (r1 * 12)::int % 12]
         || ' ' || (ARRAY['Smith','Müller','Martin','Rossi','García','Kowalski','Tanaka','Silva','Nowak','Dubois'])[1 + (r2 * 10)::int % 10],
       'user' || g || '@' || 'tenant' || t || '.example.com',
       (ARRAY['DE','US','FR','GB','JP','BR','PL','ES','IT','NL'])[1 + (r2 * 100)::int % 10],
       round((r1 * 10000 - 2000)::numeric, 2),
       timestamptz '2020-01-01' + r3 * interval '1500 days',
       CASE WHEN r3 < 0.3 THEN decode(md5(r1::text || g), 'hex') || decode(md5(r2::text), 'hex') END
FROM (SELECT g, width_bucket(random(), (SELECT thr FROM bench.thresholds)) AS t,
             random() AS r1, random() AS r2, random() AS r3
      FROM generate_series(1, (SELECT value FROM bench.params WHERE name = 'customers')::bigint) g
      OFFSET 0) s;

INSERT INTO products (tenant_id, sku, name, price, attributes, image_sha256, created_at)
SELECT t,
       'SKU-' || t || '-' || lpad(g::text, 8, '0'),
       (ARRAY['Widget','Gadget','Sprocket','Bracket','Cable','Adapter','Sensor','Valve'])[1 + (r1 * 8)::int % 8]
         || ' ' || (ARRAY['Pro','Mini','Max','Lite','XL','Plus'])[1 + (r2 * 6)::int % 6] || ' ' || (r3 * 1000)::int,
       round((1 + r1 * 499)::numeric, 2),
       jsonb_build_object('color', (ARRAY['red','green','blue','black','white'])[1 + (r2 * 5)::int % 5],
                          'weight_g', (r3 * 5000)::int, 'tags', jsonb_build_array('t' || (r1 * 50)::int, 't' || (r2 * 50)::int)),
       sha256(('image' || g)::bytea),
       timestamptz '2020-01-01' + r3 * interval '1500 days'
FROM (SELECT g, width_bucket(random(), (SELECT thr FROM bench.thresholds)) AS t,
             random() AS r1, random() AS r2, random() AS r3
      FROM generate_series(1, (SELECT value FROM bench.params WHERE name = 'products')::bigint) g
      OFFSET 0) s;

-- Directories to pick a customer (product) of the same tenant by number.
CREATE TEMP TABLE cust_dir AS
  SELECT tenant_id AS t, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS rn, id FROM customers;
CREATE TEMP TABLE cust_n AS SELECT t, count(*) AS n FROM cust_dir GROUP BY t;
CREATE TEMP TABLE prod_dir AS
  SELECT tenant_id AS t, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS rn, id, price FROM products;
CREATE TEMP TABLE prod_n AS SELECT t, count(*) AS n FROM prod_dir GROUP BY t;
ANALYZE cust_dir, cust_n, prod_dir, prod_n;

INSERT INTO orders (tenant_id, customer_id, status, total, currency, ordered_at, note)
SELECT s.t, d.id,
       (ARRAY['paid','paid','paid','shipped','shipped','cancelled','refunded','open'])[1 + (s.r1 * 8)::int % 8],
       round((5 + s.r2 * 995)::numeric, 2),
       (ARRAY['EUR','USD','GBP'])[1 + (s.r2 * 3)::int % 3],
       timestamptz '2021-01-01' + s.r3 * interval '1200 days',
       CASE WHEN s.r1 < 0.15 THEN 'Customer note: ' || md5(s.r2::text) END
FROM (SELECT g, width_bucket(random(), (SELECT thr FROM bench.thresholds)) AS t,
             random() AS r0, random() AS r1, random() AS r2, random() AS r3
      FROM generate_series(1, (SELECT value FROM bench.params WHERE name = 'orders')::bigint) g
      OFFSET 0) s
JOIN cust_n n ON n.t = s.t
JOIN cust_dir d ON d.t = s.t AND d.rn = 1 + floor(s.r0 * n.n)::bigint
ORDER BY s.g;

-- 1..4 lines per order, inserted order by order: they inherit the orders' interleaving. The path
-- variant's order_lines has no tenant_id; its rows are the same otherwise.
SELECT bench.path_variant() AS path_variant \gset
\if :path_variant
\set tenant_column ''
\set tenant_value ''
\else
\set tenant_column 'tenant_id,'
\set tenant_value 's.t,'
\endif
INSERT INTO order_lines (:tenant_column order_id, product_id, quantity, unit_price, discount)
SELECT :tenant_value s.id, d.id, 1 + (s.r1 * 9)::int, d.price,
       CASE WHEN s.r1 < 0.2 THEN round((s.r1 * 100)::numeric, 2) ELSE 0 END
FROM (SELECT o.tenant_id AS t, o.id, l, random() AS r0, random() AS r1
      FROM orders o, generate_series(1, 1 + (o.id % 4)::int) l
      OFFSET 0) s
JOIN prod_n n ON n.t = s.t
JOIN prod_dir d ON d.t = s.t AND d.rn = 1 + floor(s.r0 * n.n)::bigint
ORDER BY s.id, s.l;
