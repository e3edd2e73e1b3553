-- Timed operations, measured inside the server with clock_timestamp() (no client round trips).
\set ON_ERROR_STOP on
CREATE FUNCTION bench.tables() RETURNS text[] LANGUAGE sql IMMUTABLE
AS $$ SELECT '{tenants,customers,products,orders,order_lines,events}'::text[] $$;

-- Where a tenant's rows of table t are, as the floors read them (alias r): by the tenant column,
-- or for order_lines without one (the path variant) through the join along its path, so that
-- rows_sql('order_lines', X) is
--   SELECT r.* FROM order_lines r JOIN orders o ON o.id = r.order_id WHERE o.tenant_id = X
CREATE FUNCTION bench.is_path(t text) RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT t = 'order_lines' AND bench.path_variant() $$;
CREATE FUNCTION bench.rows_from(t text, tid int) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN bench.is_path(t)
                  THEN format('FROM order_lines r JOIN orders o ON o.id = r.order_id WHERE o.tenant_id = %s', tid)
                  ELSE format('FROM %I r WHERE r.tenant_id = %s', t, tid) END $$;
CREATE FUNCTION bench.rows_sql(t text, tid int) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT 'SELECT r.* ' || bench.rows_from(t, tid) $$;

-- (1) floor of a backup: binary COPY of the tenant's rows of every table to /dev/null (bench.rows_sql).
-- Call it as the first statement of a REPEATABLE READ transaction (one snapshot, like a backup).
CREATE FUNCTION bench.floor_copy_out(tid int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  t text;
BEGIN
  FOREACH t IN ARRAY bench.tables() LOOP
    EXECUTE format('COPY (%s) TO %L (FORMAT binary)', bench.rows_sql(t, tid), '/dev/null');
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0);
END $$;

-- Writes the tenant's rows of every table to dir/<table>.bin (binary COPY), for the restore
-- floor, and returns their total size: the binary row data of the tenant.
CREATE FUNCTION bench.copy_out_files(tid int, dir text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  t text;
  total bigint := 0;
BEGIN
  FOREACH t IN ARRAY bench.tables() LOOP
    EXECUTE format('COPY (%s) TO %L (FORMAT binary)', bench.rows_sql(t, tid), dir || '/' || t || '.bin');
    total := total + (pg_stat_file(dir || '/' || t || '.bin')).size;
  END LOOP;
  RETURN total;
END $$;

-- (2) backup_create, including the commit that publishes the archive. CALL it outside a
-- transaction block.
CREATE PROCEDURE bench.timed_backup(tenant text, label text, INOUT secs float8 DEFAULT NULL,
                                    INOUT backup_id bigint DEFAULT NULL) LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  backup_id := tenant_backup.backup_create(tenant, label);
  COMMIT;
  secs := extract(epoch FROM clock_timestamp() - t0);
END $$;

-- (3) backup_restore; call it inside BEGIN ... ROLLBACK so that every run starts from the same data.
CREATE FUNCTION bench.timed_restore(id bigint) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  n bigint;
BEGIN
  SELECT sum(rows_restored) INTO n FROM tenant_backup.backup_restore(id);
  RETURN extract(epoch FROM clock_timestamp() - t0);
END $$;

-- (3) floor of a restore: per table DELETE of the tenant's rows and binary COPY FROM of the same
-- rows (written by copy_out_files), with triggers, FK triggers included, disabled as
-- backup_restore does (session_replication_role = replica). Inside BEGIN ... ROLLBACK. A path
-- table's rows are deleted first, through the join along its path (while its parents still hold
-- the tenant's rows), and loaded in its turn, after its parents.
CREATE FUNCTION bench.floor_restore(tid int, dir text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  t text;
BEGIN
  PERFORM set_config('session_replication_role', 'replica', true);
  IF bench.path_variant() THEN
    EXECUTE format('DELETE FROM order_lines r USING orders o WHERE o.id = r.order_id AND o.tenant_id = %s', tid);
  END IF;
  FOREACH t IN ARRAY bench.tables() LOOP
    IF NOT bench.is_path(t) THEN
      EXECUTE format('DELETE FROM %I WHERE tenant_id = %s', t, tid);
    END IF;
    EXECUTE format('COPY %I FROM %L (FORMAT binary)', t, dir || '/' || t || '.bin');
  END LOOP;
  PERFORM set_config('session_replication_role', 'origin', true);
  RETURN extract(epoch FROM clock_timestamp() - t0);
END $$;

-- Rows of a tenant in every table.
CREATE FUNCTION bench.tenant_rows(tid int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  t text;
  n bigint;
  total bigint := 0;
BEGIN
  FOREACH t IN ARRAY bench.tables() LOOP
    EXECUTE 'SELECT count(*) ' || bench.rows_from(t, tid) INTO n;
    total := total + n;
  END LOOP;
  RETURN total;
END $$;
