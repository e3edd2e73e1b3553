-- Changes of a tenant since its backup and measured statements, for bench/diff.sh (issue 21).
\set ON_ERROR_STOP on

-- Changes `fraction` of the tenant's rows, chosen by a hash of their ids (deterministic, spread
-- over the tenant's pages as an application's edits are): of every table, 60% of that share
-- updated in a non-key column; of order_lines and events (the leaves of the foreign keys), 20%
-- deleted and as many new rows inserted (copies of other rows, with new ids). fraction 1: every
-- row updated, none deleted or inserted. Returns the rows changed.
CREATE FUNCTION bench.change_tenant(tid int, fraction float8) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  upd int := CASE WHEN fraction >= 1 THEN 1024 ELSE round(1024 * fraction * 0.6)::int END;
  del int := CASE WHEN fraction >= 1 THEN 0 ELSE round(1024 * fraction * 0.2)::int END;
  n bigint;
  total bigint := 0;
  lines_tenant text := CASE WHEN bench.path_variant() THEN '' ELSE 'tenant_id, ' END;
BEGIN
  UPDATE tenants SET settings = settings || '{"changed": true}' WHERE tenant_id = tid;
  GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
  UPDATE customers SET name = name || '*' WHERE tenant_id = tid AND (hashint8(id) & 1023) < upd;
  GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
  UPDATE products SET price = price + 1 WHERE tenant_id = tid AND (hashint8(id) & 1023) < upd;
  GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
  UPDATE orders SET status = status || '*' WHERE tenant_id = tid AND (hashint8(id) & 1023) < upd;
  GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
  EXECUTE format('UPDATE order_lines u SET quantity = u.quantity + 1 FROM (SELECT r.id %s
                  AND (hashint8(r.id) & 1023) < %s) s WHERE u.id = s.id', bench.rows_from('order_lines', tid), upd);
  GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
  UPDATE events SET kind = kind || '*' WHERE tenant_id = tid AND (hashint8(id) & 1023) < upd;
  GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
  IF del > 0 THEN
    -- the deletes first, then new rows (copies of rows that stay, with new ids)
    EXECUTE format('DELETE FROM order_lines d USING (SELECT r.id %s) s WHERE d.id = s.id
                    AND ((hashint8(d.id) >> 10) & 1023) < %s', bench.rows_from('order_lines', tid), del);
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM events WHERE tenant_id = tid AND ((hashint8(id) >> 10) & 1023) < del;
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    EXECUTE format('INSERT INTO order_lines (%sorder_id, product_id, quantity, unit_price, discount)
                    SELECT %sr.order_id, r.product_id, r.quantity, r.unit_price, r.discount %s
                    AND ((hashint8(r.id) >> 10) & 1023) >= 1024 - %s',
                   lines_tenant, CASE WHEN lines_tenant = '' THEN '' ELSE 'r.tenant_id, ' END,
                   bench.rows_from('order_lines', tid), del);
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    INSERT INTO events (tenant_id, occurred_at, kind, actor_id, payload)
    SELECT tenant_id, occurred_at, kind, actor_id, payload FROM events
    WHERE tenant_id = tid AND ((hashint8(id) >> 10) & 1023) >= 1024 - del;
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
  END IF;
  RETURN total;
END $$;

-- Runs a statement and returns "seconds wal_bytes": its time, and the WAL it inserted
-- (pg_current_wal_insert_lsn before and after, in this session).
CREATE FUNCTION bench.measure(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  w0 pg_lsn := pg_current_wal_insert_lsn();
  t0 timestamptz := clock_timestamp();
BEGIN
  EXECUTE statement;
  RETURN format('%s %s', extract(epoch FROM clock_timestamp() - t0), pg_current_wal_insert_lsn() - w0);
END $$;
