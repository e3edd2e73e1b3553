-- Keys, indexes (each table with tenant_id has one leading with it), foreign keys, statistics.
\set ON_ERROR_STOP on
SELECT bench.path_variant() AS path_variant, NOT bench.path_variant() AS direct_variant \gset
SET maintenance_work_mem = '1GB';
ALTER TABLE customers   ADD PRIMARY KEY (id);
ALTER TABLE products    ADD PRIMARY KEY (id);
ALTER TABLE orders      ADD PRIMARY KEY (id);
ALTER TABLE order_lines ADD PRIMARY KEY (id);
ALTER TABLE events      ADD PRIMARY KEY (id);
CREATE INDEX customers_tenant_idx   ON customers (tenant_id);
CREATE INDEX products_tenant_idx    ON products (tenant_id);
CREATE INDEX orders_tenant_idx      ON orders (tenant_id, ordered_at);
\if :direct_variant
CREATE INDEX order_lines_tenant_idx ON order_lines (tenant_id);
\endif
CREATE INDEX events_tenant_idx      ON events (tenant_id, occurred_at);
-- indexes on foreign key columns, as an application has them for its joins and cascades
CREATE INDEX orders_customer_idx      ON orders (customer_id);
CREATE INDEX order_lines_order_idx    ON order_lines (order_id);
CREATE INDEX order_lines_product_idx  ON order_lines (product_id);
ALTER TABLE customers   ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE products    ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE orders      ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
\if :direct_variant
ALTER TABLE order_lines ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
\endif
ALTER TABLE events      ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE orders      ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE order_lines ADD CONSTRAINT order_lines_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE order_lines ADD FOREIGN KEY (product_id) REFERENCES products (id);
\if :path_variant
-- order_lines reaches tenant rows through orders and through products (the same tenant in this
-- data, but not by any constraint): an ambiguous path, declared as a DBA would, through its order.
SELECT tenant_backup.backup_register_table('order_lines', via_foreign_key => 'order_lines_order_id_fkey');
\endif
-- identity/bigserial sequences are already past the loaded ids (rows got their ids from them)
VACUUM (ANALYZE) tenants, customers, products, orders, order_lines, events;
CHECKPOINT;
