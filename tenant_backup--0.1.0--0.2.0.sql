-- tenant_backup 0.1.0 -> 0.2.0.
-- 0.1.0 is released: its install script never changes. A fresh CREATE EXTENSION installs 0.1.0
-- and applies this script, so this file is the only place the 0.2.0 catalog and API are defined
-- beyond 0.1.0. Archives written by 0.1.0 keep verifying and restoring (test/t/013_upgrade.pl).
\echo Use "ALTER EXTENSION tenant_backup UPDATE TO '0.2.0'" to load this file. \quit

--------------------------------------------------------------------------------------------------
-- Security (issue 14.1, 14.3): which tables are tenant tables.
-- A discovered table (one with the tenant column) joins backups only when its owner is trusted
-- (tenant_backup._trusted_table_owner: superusers, the database owner, the extension owner, and
-- the roles of tenant_backup.table_owners) and its tenant column has a supported type. Everything
-- else that has the tenant column is a gap, listed by backup_table_gaps() and named in a WARNING
-- by every backup; it never fails other tables' backups. Registered tables always join.
--------------------------------------------------------------------------------------------------
CREATE FUNCTION tenant_backup._trusted_table_owner(owner oid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tenant_backup_trusted_table_owner' LANGUAGE C STABLE STRICT;

CREATE FUNCTION tenant_backup._supported_tenant_type(t regtype) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'text'::regtype,
                 'character varying'::regtype, 'uuid'::regtype)
$$;

-- Every table that has, or was registered with, a tenant column, and whether it is a tenant table.
CREATE FUNCTION tenant_backup._tenant_table_candidates()
RETURNS TABLE (relid oid, tenant_column name, tenant_type regtype, has_index boolean, source text, gap text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH registered AS (
        SELECT r.tbl::oid AS relid, r.tenant_column, r.excluded FROM tenant_backup.registered_tables r
    ), candidates AS (
        SELECT r.relid, r.tenant_column AS col, 'registered'::text AS source
        FROM registered r WHERE NOT r.excluded
        UNION ALL
        SELECT c.oid, a.attname, 'discovered'
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE a.attname = tenant_backup._tenant_column()
          AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tenant_backup')
          AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
          AND NOT EXISTS (SELECT 1 FROM registered r WHERE r.relid = c.oid)
          -- tables that belong to another extension are that extension's business
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
    )
    SELECT c.oid, k.col, a.atttypid::regtype,
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum),
           k.source,
           CASE
               -- checked again for every source: a registered table can have become a view since
               WHEN c.relkind NOT IN ('r', 'p') OR c.relispartition
                   THEN 'not an ordinary or partitioned table (relkind ' || c.relkind::text || ')'
               WHEN NOT tenant_backup._supported_tenant_type(a.atttypid::regtype)
                   THEN 'tenant column type ' || a.atttypid::regtype::text || ' is not supported'
               WHEN k.source = 'discovered' AND NOT tenant_backup._trusted_table_owner(c.relowner)
                   THEN 'owner ' || quote_ident(c.relowner::regrole::text) || ' is not trusted (tenant_backup.table_owners)'
           END
    FROM candidates k
    JOIN pg_class c ON c.oid = k.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = k.col AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY n.nspname, c.relname
$$;

CREATE OR REPLACE FUNCTION tenant_backup.backup_tables()
RETURNS TABLE (table_name regclass, tenant_column name, tenant_type regtype, has_index boolean, source text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.relid::regclass, k.tenant_column, k.tenant_type, k.has_index, k.source
    FROM tenant_backup._tenant_table_candidates() k WHERE k.gap IS NULL
$$;

CREATE FUNCTION tenant_backup.backup_table_gaps()
RETURNS TABLE (table_name regclass, tenant_column name, tenant_type regtype, reason text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.relid::regclass, k.tenant_column, k.tenant_type, k.gap
    FROM tenant_backup._tenant_table_candidates() k WHERE k.gap IS NOT NULL
$$;
COMMENT ON FUNCTION tenant_backup.backup_table_gaps() IS
    'Tables with the tenant column that backups leave out, and why; exclude them to say they are not tenant data.';
REVOKE ALL ON FUNCTION tenant_backup._trusted_table_owner(oid), tenant_backup._supported_tenant_type(regtype),
    tenant_backup._tenant_table_candidates(), tenant_backup.backup_table_gaps() FROM PUBLIC;

--------------------------------------------------------------------------------------------------
-- Security (14.5): an imported backup's label and snapshot time are the document's word. The
-- label is stored as 'imported: <label>'; claimed keeps what the document claimed (label,
-- snapshot_at, backup_id), NULL for backups this server took.
ALTER TABLE tenant_backup.backups ADD COLUMN claimed jsonb;
COMMENT ON COLUMN tenant_backup.backups.claimed IS
    'For kind imported: what the imported document claimed about itself (label, snapshot_at, backup_id), unverified.';

-- Security (14.13): backup_list refuses a tenant argument longer than any function takes (the
-- C functions' limit, 1024 bytes) instead of comparing every catalog row with it.
CREATE OR REPLACE FUNCTION tenant_backup.backup_list(tenant text DEFAULT NULL)
RETURNS SETOF tenant_backup.backups
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    stored text;
BEGIN
    IF pg_catalog.octet_length($1) OPERATOR(pg_catalog.>) 1024 THEN
        RAISE EXCEPTION 'tenant is too long (% bytes; at most 1024)', pg_catalog.octet_length($1)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    stored := tenant_backup._stored_tenant($1);
    RETURN QUERY
        SELECT b.* FROM tenant_backup.backups b
        WHERE $1 IS NULL OR b.tenant OPERATOR(pg_catalog.=) $1 OR b.tenant OPERATOR(pg_catalog.=) stored
        ORDER BY b.created_at DESC, b.id DESC;
END
$$;

-- <issue 23: scale to 100,000 tenants>
-- What the scheduler and its job workers look up at every pass, by index: the due idle tenants
-- (in next-run order, tenants of one time in order, with no sort), the running jobs, and the 'running' backup rows; the audit trail by age,
-- for its retention (tenant_backup.audit_retention).
CREATE INDEX schedule_state_due_idx ON tenant_backup.schedule_state (next_run, tenant)
    WHERE running_backup_id IS NULL;
CREATE INDEX schedule_state_running_idx ON tenant_backup.schedule_state (running_backup_id)
    WHERE running_backup_id IS NOT NULL;
CREATE INDEX backups_running_idx ON tenant_backup.backups (id) WHERE status = 'running';
CREATE INDEX backup_audit_at_idx ON tenant_backup.backup_audit (at);

-- The append-only trigger returned NULL, which skipped the row even for the superusers it lets
-- through (and so the audit retention's deletes): it returns the row now.
CREATE OR REPLACE FUNCTION tenant_backup._audit_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'tenant_backup.backup_audit is append-only'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only superusers may change or remove audit rows.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

-- backup_list(tenant) reads the tenant's rows by index (an OR with "$1 IS NULL" made the plan
-- read every row).
CREATE OR REPLACE FUNCTION tenant_backup.backup_list(tenant text DEFAULT NULL)
RETURNS SETOF tenant_backup.backups
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    stored text;
BEGIN
    IF pg_catalog.octet_length($1) OPERATOR(pg_catalog.>) 1024 THEN
        RAISE EXCEPTION 'tenant is too long (% bytes; at most 1024)', pg_catalog.octet_length($1)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $1 IS NULL THEN
        RETURN QUERY SELECT b.* FROM tenant_backup.backups b ORDER BY b.created_at DESC, b.id DESC;
        RETURN;
    END IF;
    stored := tenant_backup._stored_tenant($1);
    RETURN QUERY
        SELECT b.* FROM tenant_backup.backups b
        WHERE b.tenant OPERATOR(pg_catalog.=) ANY (ARRAY[$1, stored])
        ORDER BY b.created_at DESC, b.id DESC;
END
$$;

-- One tenant's row of backup_schedules(), without listing every tenant. Backup admins only.
CREATE FUNCTION tenant_backup.backup_schedules(tenant text)
RETURNS TABLE (tenant text, schedule text, cron text, time_zone text, keep_last integer, keep_days integer,
               keep_daily integer, keep_weekly integer, keep_monthly integer, window_minutes integer,
               enabled boolean, next_run timestamptz, last_due_run timestamptz)
    AS 'MODULE_PATHNAME', 'backup_schedules_of_tenant' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_schedules(text) IS
    'The schedule in force for one tenant, with its next run. Backup admins only.';

-- Whether a scheduler serves this database now (tenant_backup in shared_preload_libraries, and
-- the database in tenant_backup.databases).
CREATE FUNCTION tenant_backup._scheduler_serves() RETURNS boolean
    AS 'MODULE_PATHNAME', 'tenant_backup_scheduler_serves' LANGUAGE C STABLE;

-- backup_status's schedule columns of one tenant, from its schedule_state row (the schedules are
-- read once per query). Backup admins only.
CREATE FUNCTION tenant_backup._schedule_times(tenant text, schedule_key text, stored_next_run timestamptz,
    OUT schedule text, OUT enabled boolean, OUT next_run timestamptz, OUT last_due_run timestamptz)
    AS 'MODULE_PATHNAME', 'tenant_backup_schedule_times' LANGUAGE C STABLE;

-- backup_status at scale: a WHERE tenant = ... reaches every table by index (the tenants are a
-- UNION the condition is pushed into; the backups' aggregates are grouped by tenant), instead of
-- computing every tenant's row first. The tenants are those the scheduler keeps state for, those
-- with a completed backup or a schedule of their own, and, when no scheduler serves the database,
-- those discovery finds. served_by_scheduler says whether a scheduler serves the database now:
-- without one, no scheduled backup runs (overdue says so once a scheduled time has passed).
CREATE OR REPLACE VIEW tenant_backup.backup_status AS
SELECT t.tenant,
       s.schedule,
       coalesce(s.enabled, false) AS scheduled,
       l.id AS last_backup_id,
       l.kind AS last_backup_kind,
       l.finished_at AS last_backup_at,
       l.size_bytes AS last_backup_bytes,
       s.next_run,
       coalesce(s.enabled AND s.last_due_run IS NOT NULL
                AND (l.created_at IS NULL OR l.created_at + make_interval(secs => tenant_backup._scheduler_clock_offset())
                     < s.last_due_run), false) AS overdue,
       st.running_backup_id IS NOT NULL AS running,
       coalesce(st.consecutive_failures, 0) AS consecutive_failures,
       st.last_error,
       st.last_failure_at,
       coalesce(k.retained_count, 0) AS retained_count,
       coalesce(k.retained_bytes, 0) AS retained_bytes,
       tenant_backup._scheduler_serves() AS served_by_scheduler
FROM (SELECT ss.tenant FROM tenant_backup.schedule_state ss
      UNION SELECT b.tenant FROM tenant_backup.backups b WHERE b.status = 'completed'
      UNION SELECT sc.tenant FROM tenant_backup.schedules sc WHERE sc.tenant IS NOT NULL
      UNION SELECT d.tenant FROM tenant_backup.backup_schedules() d WHERE NOT tenant_backup._scheduler_serves()) t
LEFT JOIN tenant_backup.schedule_state st ON st.tenant = t.tenant
CROSS JOIN LATERAL tenant_backup._schedule_times(t.tenant, st.schedule_key, st.next_run) s
LEFT JOIN (SELECT DISTINCT ON (b.tenant) b.tenant, b.id, b.kind, b.created_at, b.finished_at, b.size_bytes
           FROM tenant_backup.backups b WHERE b.status = 'completed'
           ORDER BY b.tenant, b.created_at DESC, b.id DESC) l ON l.tenant = t.tenant
LEFT JOIN (SELECT b.tenant, count(*) AS retained_count, sum(b.size_bytes)::bigint AS retained_bytes
           FROM tenant_backup.backups b WHERE b.status = 'completed' GROUP BY b.tenant) k ON k.tenant = t.tenant;
COMMENT ON VIEW tenant_backup.backup_status IS
    'One row per tenant: last completed backup, next run, overdue, failures, retained backups, whether a scheduler serves the database.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_schedules(text), tenant_backup._scheduler_serves(),
    tenant_backup._schedule_times(text, text, timestamptz) TO PUBLIC;
