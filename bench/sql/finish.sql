-- Keys, indexes (each table has one leading with tenant_id), foreign keys, statistics.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '1GB';
ALTER TABLE customers   ADD PRIMARY KEY (id);
ALTER TABLE products    ADD PRIMARY KEY (id);
ALTER TABLE orders      ADD PRIMARY KEY (id);
ALTER TABLE order_lines ADD PRIMARY KEY (id);
ALTER TABLE events      ADD PRIMARY KEY (id);
CREATE INDEX customers_tenant_idx   ON customers (tenant_id);
CREATE INDEX products_tenant_idx    ON products (tenant_id);
CREATE INDEX orders_tenant_idx      ON orders (tenant_id, ordered_at);
CREATE INDEX order_lines_tenant_idx ON order_lines (tenant_id);
CREATE INDEX events_tenant_idx      ON events (tenant_id, occurred_at);
-- indexes on foreign key columns, as an application has them for its joins and cascades
CREATE INDEX orders_customer_idx      ON orders (customer_id);
CREATE INDEX order_lines_order_idx    ON order_lines (order_id);
CREATE INDEX order_lines_product_idx  ON order_lines (product_id);
ALTER TABLE customers   ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE products    ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE orders      ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE order_lines ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE events      ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE orders      ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE order_lines ADD FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE order_lines ADD FOREIGN KEY (product_id) REFERENCES products (id);
-- identity/bigserial sequences are already past the loaded ids (rows got their ids from them)
VACUUM (ANALYZE) tenants, customers, products, orders, order_lines, events;
CHECKPOINT;
