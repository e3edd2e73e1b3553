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

REVOKE ALL ON FUNCTION tenant_backup._trusted_table_owner(oid), tenant_backup._supported_tenant_type(regtype),
    tenant_backup._tenant_table_candidates() FROM PUBLIC;

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

--------------------------------------------------------------------------------------------------
-- Whole tenants (issue 17): rows found through foreign keys, root tables, shared tables.
-- A table without the tenant column whose rows reference tenant rows through a foreign key
-- (directly or through a chain) is a path table; the table the tenant columns reference is the
-- root table, whose tenant row is the tenant's own. Which foreign key each table follows is
-- decided in C++ (src/core/ownership), from the graph these functions read; backup_tables() and
-- backup_table_gaps() show the result.
--------------------------------------------------------------------------------------------------
ALTER TABLE tenant_backup.registered_tables ADD COLUMN via_foreign_key name;
ALTER TABLE tenant_backup.registered_tables DROP CONSTRAINT registered_tables_check;
ALTER TABLE tenant_backup.registered_tables ADD CONSTRAINT registered_tables_check
    CHECK (excluded OR num_nonnulls(tenant_column, via_foreign_key) = 1);
COMMENT ON COLUMN tenant_backup.registered_tables.via_foreign_key IS
    'For a table without a tenant column: the foreign key (on this table) its rows find their tenant through.';

ALTER TABLE tenant_backup.backups ADD COLUMN left_out jsonb;
COMMENT ON COLUMN tenant_backup.backups.left_out IS
    'Tables that held or would hold tenant rows and that this backup left out ([{table, reason}]); NULL for backups before 0.2.0.';

DROP FUNCTION tenant_backup.backup_register_table(regclass, name);
CREATE FUNCTION tenant_backup.backup_register_table(tbl regclass, tenant_column name DEFAULT NULL,
                                                    via_foreign_key name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
    coltype regtype;
BEGIN
    PERFORM tenant_backup._refuse_on_standby('backup_register_table');
    IF tbl IS NULL OR num_nonnulls(tenant_column, via_foreign_key) <> 1 THEN
        RAISE EXCEPTION 'give tbl and exactly one of tenant_column and via_foreign_key'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relispartition INTO rel FROM pg_class c WHERE c.oid = tbl;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF rel.relispartition THEN
        RAISE EXCEPTION '% is a partition', tbl USING ERRCODE = 'wrong_object_type',
            HINT = 'Register its partitioned table: a backup reads all partitions through it.';
    END IF;
    IF via_foreign_key IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = tbl AND c.contype = 'f'
                       AND c.conname = via_foreign_key AND c.conparentid = 0) THEN
            RAISE EXCEPTION 'table % has no foreign key "%"', tbl, via_foreign_key
                USING ERRCODE = 'undefined_object',
                      HINT = 'tenant_backup.backup_table_gaps() names the candidate foreign keys of an ambiguous table.';
        END IF;
    ELSE
        SELECT a.atttypid::regtype INTO coltype FROM pg_attribute a
        WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', tenant_column, tbl USING ERRCODE = 'undefined_column';
        END IF;
        IF NOT tenant_backup._supported_tenant_type(coltype) THEN
            RAISE EXCEPTION 'tenant column "%" of table % has type %', tenant_column, tbl, coltype
                USING ERRCODE = 'datatype_mismatch',
                      DETAIL = 'A tenant column must be smallint, integer, bigint, text, varchar or uuid.';
        END IF;
    END IF;
    INSERT INTO tenant_backup.registered_tables AS r (tbl, tenant_column, via_foreign_key, excluded)
    VALUES (tbl, tenant_column, via_foreign_key, false)
    ON CONFLICT ON CONSTRAINT registered_tables_pkey
        DO UPDATE SET tenant_column = excluded.tenant_column, via_foreign_key = excluded.via_foreign_key,
                      excluded = false;
END
$$;
COMMENT ON FUNCTION tenant_backup.backup_register_table(regclass, name, name) IS
    'Makes a table part of every backup: by its tenant column, or (via_foreign_key) through one of its foreign keys.';

-- The tables that foreign keys connect, outside the system schemas, tenant_backup and other
-- extensions, with why a table may not be read by backups (blocked), if so. A partition is read
-- through its partitioned table: one with a foreign key of its own (not its parent's) is blocked
-- when its parent has no tenant column, since backups would never read it; others are skipped.
CREATE FUNCTION tenant_backup._foreign_key_tables()
RETURNS TABLE (relid oid, schema_name name, table_name name, relkind "char", blocked text, partition boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH ends AS (SELECT k.conrelid AS relid FROM pg_constraint k WHERE k.contype = 'f'
                  UNION SELECT k.confrelid FROM pg_constraint k WHERE k.contype = 'f')
    SELECT c.oid, n.nspname, c.relname, c.relkind,
           CASE WHEN c.relispartition THEN
                    CASE WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f'
                                      AND k.conparentid = 0)
                          AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                                          AND a.attname = tenant_backup._tenant_column())
                         THEN 'a partition with a foreign key of its own: backups read partitions through their '
                              'partitioned table, so declare the foreign key on ' ||
                              (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid)
                    END
                WHEN NOT tenant_backup._trusted_table_owner(c.relowner)
                THEN 'owner ' || quote_ident(c.relowner::regrole::text) || ' is not trusted (tenant_backup.table_owners)'
           END,
           c.relispartition
    FROM ends
    JOIN pg_class c ON c.oid = ends.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tenant_backup')
      AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
$$;

-- Top-level foreign keys between such tables: the column names of single-column keys (to find
-- root tables), and whether an index leads with the key's columns (a path through the key is
-- then read by index probes).
CREATE FUNCTION tenant_backup._foreign_key_graph()
RETURNS TABLE (constraint_name name, child oid, parent oid, child_column name, parent_column name,
               parent_column_type regtype, indexed boolean, nullable boolean, constraint_oid oid,
               unsafe_cast boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.conname, k.conrelid, k.confrelid,
           CASE WHEN cardinality(k.conkey) = 1 THEN ca.attname END,
           CASE WHEN cardinality(k.confkey) = 1 THEN pa.attname END,
           CASE WHEN cardinality(k.confkey) = 1 THEN pa.atttypid::regtype END,
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid
                   AND (SELECT array_agg(x ORDER BY x)
                        FROM unnest((string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)]) x)
                       = (SELECT array_agg(x ORDER BY x) FROM unnest(k.conkey) x)),
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
                   AND NOT a.attnotnull),
           k.oid,
           -- a key column that reaches the equality only through a cast function of a role that is
           -- not a superuser: joining along the key would run that role's code
           EXISTS (SELECT 1 FROM unnest(k.conkey, k.confkey, k.conpfeqop) AS u(ck, pk, op)
                   JOIN pg_attribute xa ON xa.attrelid = k.conrelid AND xa.attnum = u.ck
                   JOIN pg_attribute xp ON xp.attrelid = k.confrelid AND xp.attnum = u.pk
                   JOIN pg_operator o ON o.oid = u.op
                   JOIN pg_cast x ON x.castmethod = 'f'
                        AND ((x.castsource = xa.atttypid AND x.casttarget = o.oprright)
                             OR (x.castsource = xp.atttypid AND x.casttarget = o.oprleft))
                   JOIN pg_proc p ON p.oid = x.castfunc
                   JOIN pg_roles r ON r.oid = p.proowner
                   WHERE NOT r.rolsuper)
    FROM pg_constraint k
    JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[1]
    JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
    WHERE k.contype = 'f' AND k.conparentid = 0
    ORDER BY k.conrelid, k.conname
$$;

-- Every table that holds, is referenced by, or would hold tenant rows: how its rows are found
-- (rows_found_by: 'tenant column', 'root', 'path', 'shared'), and the gap when backups leave it out.
CREATE FUNCTION tenant_backup._ownership()
RETURNS TABLE (relid oid, rows_found_by text, tenant_column name, tenant_type regtype, has_index boolean,
               source text, path text, depth integer, gap text, ambiguous boolean)
    AS 'MODULE_PATHNAME', 'tenant_backup_ownership' LANGUAGE C STABLE;

DROP FUNCTION tenant_backup.backup_tables();
CREATE FUNCTION tenant_backup.backup_tables()
RETURNS TABLE (table_name regclass, tenant_column name, tenant_type regtype, has_index boolean, source text,
               rows_found_by text, path text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.relid::regclass, o.tenant_column, o.tenant_type, o.has_index, o.source, o.rows_found_by, o.path
    FROM tenant_backup._ownership() o WHERE o.gap IS NULL
$$;
COMMENT ON FUNCTION tenant_backup.backup_tables() IS
    'The tables of a tenant''s backup and how their rows are found (tenant column, root, path), and the shared tables tenant rows reference.';

CREATE FUNCTION tenant_backup.backup_table_gaps()
RETURNS TABLE (table_name regclass, tenant_column name, tenant_type regtype, reason text, left_out boolean,
               refuses_backups boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH o AS MATERIALIZED (SELECT * FROM tenant_backup._ownership())
    SELECT o.relid::regclass, o.tenant_column, o.tenant_type, o.gap, true, o.ambiguous
    FROM o WHERE o.gap IS NOT NULL
    UNION ALL
    SELECT o.relid::regclass, o.tenant_column, o.tenant_type,
           CASE WHEN o.rows_found_by = 'path'
                THEN 'no index leads with the columns of the first foreign key of its path (' || o.path ||
                     '): backing up a tenant reads the whole table'
                ELSE 'no index leads with "' || o.tenant_column || '": backing up a tenant reads the whole table'
           END, false, false
    FROM o
    WHERE o.gap IS NULL AND NOT o.has_index AND o.rows_found_by IN ('tenant column', 'path')
$$;
COMMENT ON FUNCTION tenant_backup.backup_table_gaps() IS
    'What backups leave out (left_out) or read badly, and why; an ambiguous path refuses backups until declared; exclude a table to say it is not tenant data.';

-- How many rows of each path table belong to no tenant (a NULL or dangling step of their path);
-- such rows are in no tenant's backup. Reads each path table whole: a check, not for every backup.
CREATE FUNCTION tenant_backup.backup_unowned_rows()
RETURNS TABLE (table_name regclass, path text, unowned_rows bigint)
    AS 'MODULE_PATHNAME', 'tenant_backup_unowned_rows' LANGUAGE C STABLE;
COMMENT ON FUNCTION tenant_backup.backup_unowned_rows() IS
    'Rows of tables found through foreign keys whose path reaches no tenant; they are in no backup.';

REVOKE ALL ON FUNCTION tenant_backup.backup_register_table(regclass, name, name), tenant_backup._foreign_key_tables(),
    tenant_backup._foreign_key_graph(), tenant_backup._ownership(), tenant_backup.backup_tables(),
    tenant_backup.backup_table_gaps(), tenant_backup.backup_unowned_rows() FROM PUBLIC;

--------------------------------------------------------------------------------------------------
-- issue 19: operability (19.1) backup_schedule_set: an argument left out (NULL) keeps the
-- schedule's current value, as repositories already did; a new schedule takes the defaults that
-- 0.1.0 wrote into the signature ('0 2 * * *', 'UTC', keep_last 14, no window, enabled, the other
-- keep_* 0), now applied by the function itself.
--------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenant_backup.backup_schedule_set(
    tenant text DEFAULT NULL, cron text DEFAULT NULL, time_zone text DEFAULT NULL,
    keep_last integer DEFAULT NULL, window_minutes integer DEFAULT NULL, enabled boolean DEFAULT NULL,
    keep_days integer DEFAULT NULL, keep_daily integer DEFAULT NULL, keep_weekly integer DEFAULT NULL,
    keep_monthly integer DEFAULT NULL, repositories text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'backup_schedule_set' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_schedule_set(text, text, text, integer, integer, boolean, integer, integer,
    integer, integer, text) IS
    'Sets the backup schedule of a tenant, or (tenant NULL) the default of every tenant; arguments left out keep their current values. Backup admins only.';

--------------------------------------------------------------------------------------------------
-- <issue 24: standbys and failover>
-- A hot standby serves what only reads; every function that writes fails at once there, saying
-- so: the C functions call the check themselves, backup_exclude_table calls _refuse_on_standby
-- first, as backup_register_table (issue 17's block) does. README "Standbys and failover".
-- backup_status.unprotected (no completed backup, or no stored copy of the newest) is defined
-- with the view's one definition, in issue 23's block.
CREATE FUNCTION tenant_backup._refuse_on_standby(function text) RETURNS void
    AS 'MODULE_PATHNAME', 'tenant_backup_refuse_on_standby' LANGUAGE C STABLE STRICT;
CREATE OR REPLACE FUNCTION tenant_backup.backup_exclude_table(tbl regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM tenant_backup._refuse_on_standby('backup_exclude_table');
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'tbl must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO tenant_backup.registered_tables AS r (tbl, tenant_column, excluded)
    VALUES (tbl, NULL, true)
    ON CONFLICT ON CONSTRAINT registered_tables_pkey DO UPDATE SET excluded = true;
END
$$;

COMMENT ON FUNCTION tenant_backup.backup_repository_check(text) IS
    'Stored copies without their object (missing_object) or of another size (size_mismatch), objects the catalog knows to be garbage (leftover_object: backup_sync removes them), objects named like ours that the catalog does not know (orphan_object: left alone), multipart uploads never completed (incomplete_upload), and a repository on this node only while standbys are attached (node_local: its copies would not survive a failover). Changes nothing. Superusers only.';

-- <issue 23: scale to 100,000 tenants>
-- What the scheduler and its job workers look up at every pass, by index: the due idle tenants
-- (in next-run order, tenants of one time in order, with no sort), the running jobs, and the
-- 'running' backup rows; the audit trail by age, for its retention (tenant_backup.audit_retention).
CREATE INDEX schedule_state_due_idx ON tenant_backup.schedule_state (next_run, tenant)
    WHERE running_backup_id IS NULL;
CREATE INDEX schedule_state_running_idx ON tenant_backup.schedule_state (running_backup_id)
    WHERE running_backup_id IS NOT NULL;
CREATE INDEX backups_running_idx ON tenant_backup.backups (id) WHERE status = 'running';
CREATE INDEX backup_audit_at_idx ON tenant_backup.backup_audit (at);
-- Each tenant's completed backups, newest first, with their sizes: backup_status reads a tenant's
-- newest backup with one probe, and counts and sums its retained ones (and lists the tenants that
-- have any) from the index alone.
CREATE INDEX backups_completed_idx ON tenant_backup.backups (tenant, created_at DESC, id DESC) INCLUDE (size_bytes)
    WHERE status = 'completed';

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

-- One tenant's row of backup_schedules(), without listing every tenant. Who may: as
-- backup_schedules() (issue 19.6).
CREATE FUNCTION tenant_backup.backup_schedules(tenant text)
RETURNS TABLE (tenant text, schedule text, cron text, time_zone text, keep_last integer, keep_days integer,
               keep_daily integer, keep_weekly integer, keep_monthly integer, window_minutes integer,
               enabled boolean, next_run timestamptz, last_due_run timestamptz)
    AS 'MODULE_PATHNAME', 'backup_schedules_of_tenant' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_schedules(text) IS
    'The schedule in force for one tenant, with its next run. Backup admins, pg_monitor, and holders of backup.view on the tenant.';

-- Whether a scheduler serves this database now (tenant_backup in shared_preload_libraries, and
-- the database in tenant_backup.databases).
CREATE FUNCTION tenant_backup._scheduler_serves() RETURNS boolean
    AS 'MODULE_PATHNAME', 'tenant_backup_scheduler_serves' LANGUAGE C STABLE;

-- backup_status's schedule columns of one tenant, from its schedule_state row (the schedules are
-- read once per query). Backup admins only.
CREATE FUNCTION tenant_backup._schedule_times(tenant text, schedule_key text, stored_next_run timestamptz,
    OUT schedule text, OUT enabled boolean, OUT next_run timestamptz, OUT last_due_run timestamptz)
    AS 'MODULE_PATHNAME', 'tenant_backup_schedule_times' LANGUAGE C STABLE;

-- Issue 19.6 (in this block because backup_status uses them): who reads backup_status. Backup
-- admins every tenant's row; members of pg_monitor every tenant's (health: last_error, which may
-- quote a tenant's rows, only where they hold backup.view too); a role holding backup.view on
-- tenants those tenants' rows. _status_reader() refuses anyone else (audited), once per query,
-- even when no tenant has a row; _status_visible(tenant) filters the rows. (VOLATILE, though it
-- is stable, so that the planner keeps it on the view's rows: pushed into the view's union it ran
-- once per catalog row, 1.4 million calls for 100,000 tenants. Issue 23.4.)
CREATE FUNCTION tenant_backup._status_reader() RETURNS boolean
    AS 'MODULE_PATHNAME', 'tenant_backup_status_reader' LANGUAGE C STABLE;
CREATE FUNCTION tenant_backup._status_visible(tenant text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tenant_backup_status_visible' LANGUAGE C VOLATILE STRICT;

-- backup_status at scale (issue 24's unprotected and issue 17's coverage kept as they are): a
-- WHERE tenant = ... reaches every table by index (the tenants are a UNION ALL the condition is
-- pushed into, the backups' aggregates grouped by tenant; the newest backup and its copies are
-- lateral probes), instead of computing every tenant's row first; all tenants read the backups
-- once, through backups_completed_idx (index-only where the visibility map allows), with no sort. The tenants are those the scheduler keeps state for, those
-- with a completed backup or a schedule of their own, and, when no scheduler serves the database,
-- those discovery finds. served_by_scheduler says whether a scheduler serves the database now:
-- without one, no scheduled backup runs (overdue says so once a scheduled time has passed).
-- (issue 20: the drill outcome of each backup, added here because the view below reads it; the
-- rest of issue 20 is in its own block at the end)
ALTER TABLE tenant_backup.backups
    ADD COLUMN drilled_at   timestamptz,
    ADD COLUMN drill_status text CHECK (drill_status IN ('ok', 'failed')),
    ADD COLUMN drill_error  text;
-- security_barrier: the rows a caller may not read (_status_visible below) are filtered before any
-- condition of the caller's own runs, so a cheap function of theirs in WHERE never sees another
-- tenant's row; a leakproof WHERE tenant = ... is still pushed down to the indexes.
CREATE OR REPLACE VIEW tenant_backup.backup_status WITH (security_barrier) AS
SELECT t.tenant,
       s.schedule,
       coalesce(s.enabled, false) AS scheduled,
       l.id AS last_backup_id,
       l.kind AS last_backup_kind,
       l.finished_at AS last_backup_at,
       l.size_bytes AS last_backup_bytes,
       s.next_run,
       coalesce(s.enabled AND s.last_due_run IS NOT NULL
                AND (l.created_at IS NULL OR l.created_at + make_interval(secs => (SELECT tenant_backup._scheduler_clock_offset()))
                     < s.last_due_run), false) AS overdue,
       st.running_backup_id IS NOT NULL AS running,
       coalesce(st.consecutive_failures, 0) AS consecutive_failures,
       -- issue 19.6: pg_monitor's health rows leave out what may quote a tenant's rows
       CASE WHEN tenant_backup._may('backup.view', t.tenant) THEN st.last_error END AS last_error,
       st.last_failure_at,
       t.retained_count,
       t.retained_bytes,
       -- issue 24: nothing to restore the newest completed backup from
       -- issue 20: or it failed its last verification or restore drill
       (l.id IS NULL OR cs.stored IS NULL OR l.verify_status IS NOT DISTINCT FROM 'failed'
        OR l.drill_status IS NOT DISTINCT FROM 'failed') AS unprotected,
       -- issue 17: whether the newest completed backup left out tables that hold tenant rows
       CASE WHEN l.id IS NULL THEN NULL
            WHEN l.left_out IS NULL THEN 'unknown'
            WHEN pg_catalog.jsonb_array_length(l.left_out) OPERATOR(pg_catalog.=) 0 THEN 'complete'
            ELSE 'incomplete' END AS coverage,
       -- (the two functions without arguments once per query, not once per row)
       (SELECT tenant_backup._scheduler_serves()) AS served_by_scheduler,
       -- issue 20: the newest completed backup's last verification and restore drill; a newest
       -- backup that failed either counts as unprotected (above)
       l.verified_at AS last_verified_at,
       (l.verify_status OPERATOR(pg_catalog.=) 'ok') AS last_verify_ok,
       l.drilled_at AS last_drill_at,
       (l.drill_status OPERATOR(pg_catalog.=) 'ok') AS last_drill_ok,
       -- (as last_error: it may quote a row's key)
       CASE WHEN tenant_backup._may('backup.view', t.tenant) THEN l.drill_error END AS last_drill_error
-- The tenants: those with completed backups (with their count and size, one pass over
-- backups_completed_idx), and those the scheduler keeps state for, with a schedule of their own,
-- or (no scheduler) found by discovery that have none.
FROM (SELECT b.tenant, count(*) AS retained_count, sum(b.size_bytes)::bigint AS retained_bytes
      FROM tenant_backup.backups b WHERE b.status = 'completed' GROUP BY b.tenant
      UNION ALL
      SELECT u.tenant, 0, 0
      FROM (SELECT ss.tenant FROM tenant_backup.schedule_state ss
            UNION SELECT sc.tenant FROM tenant_backup.schedules sc WHERE sc.tenant IS NOT NULL
            UNION SELECT d.tenant FROM tenant_backup.backup_schedules() d WHERE NOT tenant_backup._scheduler_serves()) u
      WHERE NOT EXISTS (SELECT FROM tenant_backup.backups b
                        WHERE b.tenant OPERATOR(pg_catalog.=) u.tenant AND b.status OPERATOR(pg_catalog.=) 'completed')) t
LEFT JOIN tenant_backup.schedule_state st ON st.tenant = t.tenant
CROSS JOIN LATERAL tenant_backup._schedule_times(t.tenant, st.schedule_key, st.next_run) s
-- (the newest completed backup by one probe of backups_completed_idx per tenant)
LEFT JOIN LATERAL (SELECT b.id, b.kind, b.created_at, b.finished_at, b.size_bytes, b.left_out,
                          b.verified_at, b.verify_status, b.drilled_at, b.drill_status, b.drill_error
                   FROM tenant_backup.backups b
                   WHERE b.tenant OPERATOR(pg_catalog.=) t.tenant AND b.status OPERATOR(pg_catalog.=) 'completed'
                   ORDER BY b.created_at DESC, b.id DESC LIMIT 1) l ON true
-- (a lateral probe of the newest backup's copies, by index, rather than a subplan the planner may
-- hash over every copy even for one tenant)
LEFT JOIN LATERAL (SELECT true AS stored FROM tenant_backup.backup_copies c
                   WHERE c.backup_id OPERATOR(pg_catalog.=) l.id AND c.state OPERATOR(pg_catalog.=) 'stored'
                   LIMIT 1) cs ON true
-- issue 19.6: the rows the caller may read (a one-time check, then a filter of the view's rows)
WHERE tenant_backup._status_reader() AND tenant_backup._status_visible(t.tenant);
COMMENT ON VIEW tenant_backup.backup_status IS
    'One row per tenant: last completed backup, next run, overdue, failures, retained backups, whether a scheduler serves the database. Backup admins see every tenant, pg_monitor every tenant''s health, a holder of backup.view its tenants.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_schedules(text), tenant_backup._scheduler_serves(),
    tenant_backup._schedule_times(text, text, timestamptz), tenant_backup._status_reader(),
    tenant_backup._status_visible(text) TO PUBLIC;

--------------------------------------------------------------------------------------------------
-- Issue 19: operability (19.2, 19.6; hO). tenant_backup.databases defaults to '*': the launcher
-- serves every database where the extension is created. CREATE EXTENSION (and this update) asks
-- it, at commit, to look for the extension in this database, so that its scheduler starts at
-- once rather than at the launcher's next rescan. backup_schedules() is readable by backup
-- admins, members of pg_monitor, and holders of backup.view (their tenants' rows); backup_status
-- (issue 23's block) likewise.
--------------------------------------------------------------------------------------------------
CREATE FUNCTION tenant_backup._wake_launcher() RETURNS void
    AS 'MODULE_PATHNAME', 'tenant_backup_wake_launcher' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION tenant_backup._wake_launcher() FROM PUBLIC;
COMMENT ON FUNCTION tenant_backup.backup_schedules() IS
    'Every tenant with the schedule in force and its next run. Backup admins see every tenant, members of pg_monitor every tenant, a holder of backup.view its tenants.';
SELECT tenant_backup._wake_launcher();

--------------------------------------------------------------------------------------------------
-- Issue 19 (item 8): asynchronous restores and backups, for applications whose web requests must
-- not hold a transaction for minutes. backup_restore_async / backup_create_async check what the
-- synchronous call checks first, queue a job and return its id at once; once the calling
-- transaction commits, a background worker of the job's own, logged in as the caller's session
-- user and acting as its current user, runs the very same restore or backup (one transaction,
-- atomic, permissions checked again) and records the outcome here in that transaction.
-- backup_progress shows restores too (kind 'restore'), with their phase and job id; the
-- submitter may cancel its job (backup_cancel). A job whose worker is gone (crash, SIGKILL, server
-- restart) is marked failed by the scheduler's next pass or the next submission or cancellation.
-- Rows are history, not configuration: not dumped (role oids would not survive a restore).
--------------------------------------------------------------------------------------------------
CREATE TABLE tenant_backup.backup_jobs (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('restore', 'backup')),
    tenant           text NOT NULL,
    backup_id        bigint,      -- restore: the backup restored; backup: the backup taken, once completed
    label            text,        -- backup: the new backup's label
    requested_by     regrole NOT NULL, -- the current user at submission: the job runs as this role
    session_role     regrole NOT NULL, -- the session user at submission: its worker logs in as this role
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    submitted_at     timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    worker_pid       integer,
    tables_done      integer,     -- once completed: tables restored, or backed up
    rows_done        bigint,      -- once completed: rows restored, or backed up
    result           jsonb,       -- a completed restore: [{table, rows_removed, rows_restored}]
    error            text,
    settings         jsonb,       -- the caller's session values of tenant_backup.* settings, applied to the job
    strict           boolean NOT NULL DEFAULT false -- a restore: backup_restore's strict
);
CREATE INDEX backup_jobs_active_idx ON tenant_backup.backup_jobs (id) WHERE state IN ('queued', 'running');
CREATE INDEX backup_jobs_tenant_idx ON tenant_backup.backup_jobs (tenant, submitted_at);
COMMENT ON TABLE tenant_backup.backup_jobs IS
    'Asynchronous restores and backups (backup_restore_async, backup_create_async): state, outcome, result counts.';
-- A caller sees the jobs of the tenants it may view, and the jobs it submitted.
ALTER TABLE tenant_backup.backup_jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY backup_jobs_view ON tenant_backup.backup_jobs FOR SELECT
    USING (tenant_backup._may('backup.view', tenant)
           OR requested_by::pg_catalog.oid OPERATOR(pg_catalog.=)
              (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user));
GRANT SELECT ON tenant_backup.backup_jobs TO PUBLIC;

CREATE FUNCTION tenant_backup.backup_restore_async(backup_id bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_restore_async' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore_async(bigint) IS
    'backup_restore run by a background worker as the caller once this transaction commits; returns the job id at once (backup_job(id)).';
-- With backup_restore(backup_id, strict)'s option (issue 20's block).
CREATE FUNCTION tenant_backup.backup_restore_async(backup_id bigint, strict boolean) RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_restore_async' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore_async(bigint, boolean) IS
    'backup_restore(backup_id, strict) run by a background worker as the caller once this transaction commits; returns the job id at once.';

CREATE FUNCTION tenant_backup.backup_create_async(tenant text, label text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_create_async' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_create_async(text, text) IS
    'backup_create run by a background worker as the caller once this transaction commits; returns the job id at once (backup_job(id)).';

CREATE FUNCTION tenant_backup.backup_cancel(job_id bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'backup_cancel' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_cancel(bigint) IS
    'Cancels an asynchronous job the caller submitted (superusers: any): a queued one never starts, a running one rolls back. False if it had ended.';

CREATE FUNCTION tenant_backup.backup_job(job_id bigint) RETURNS SETOF tenant_backup.backup_jobs
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.* FROM tenant_backup.backup_jobs j WHERE j.id OPERATOR(pg_catalog.=) $1
$$;
COMMENT ON FUNCTION tenant_backup.backup_job(bigint) IS
    'One asynchronous job: state (queued, running, completed, failed, cancelled), error, result counts.';

-- backup_progress shows restores too, with the phase of each and the asynchronous job it runs
-- for (new columns at the end: the view and its function are made again).
DROP VIEW tenant_backup.backup_progress;
DROP FUNCTION tenant_backup._backup_progress();
CREATE FUNCTION tenant_backup._backup_progress()
RETURNS TABLE (pid integer, backup_id bigint, tenant text, kind text, started_at timestamptz, tables_done integer,
               tables_total integer, current_table text, rows_done bigint, bytes_done bigint, phase text,
               job_id bigint)
    AS 'MODULE_PATHNAME', 'tenant_backup_progress' LANGUAGE C VOLATILE;
-- Backups and restores running now in this database (needs tenant_backup in
-- shared_preload_libraries), of the tenants the current user may view, and the asynchronous jobs
-- it submitted: _backup_progress() checks it itself, on the full tenant. kind is the backup's
-- kind (manual, auto) or 'restore'; backup_id the backup taken or restored; bytes_done counts
-- binary row bytes read (a backup) or loaded (a restore), before compression.
CREATE VIEW tenant_backup.backup_progress AS
SELECT p.* FROM tenant_backup._backup_progress() p;

GRANT EXECUTE ON FUNCTION tenant_backup._backup_progress(), tenant_backup.backup_restore_async(bigint),
    tenant_backup.backup_restore_async(bigint, boolean),
    tenant_backup.backup_create_async(text, text), tenant_backup.backup_cancel(bigint),
    tenant_backup.backup_job(bigint) TO PUBLIC;
GRANT SELECT ON tenant_backup.backup_progress TO PUBLIC;

--------------------------------------------------------------------------------------------------
-- Issue 18: backups that outlive their database (docs/FORMAT.md "Repository records", README
-- "Disaster recovery"). Every repository describes itself: beside each archive its catalog record,
-- and each tenant's wrapped data key, authenticated with the master key. backup_repository_scan
-- lists what a repository holds; backup_attach brings it into this catalog under ids of its own.
-- The catalog's own identity: names the key records this catalog writes, so that a catalog
-- created again in the same database (DROP EXTENSION, CREATE EXTENSION: generations and ids start
-- again at 1) never overwrites the key records of the old one. Not dumped: a restored dump is a
-- catalog of its own.
CREATE TABLE tenant_backup.catalog_identity (
    single     boolean PRIMARY KEY DEFAULT true CHECK (single),
    id         text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenant_backup.catalog_identity DEFAULT VALUES;

ALTER TABLE tenant_backup.backups ADD COLUMN original_id bigint;
ALTER TABLE tenant_backup.backups ADD COLUMN source jsonb;
ALTER TABLE tenant_backup.backups ADD COLUMN attached_at timestamptz;
COMMENT ON COLUMN tenant_backup.backups.original_id IS
    'For a backup attached from a repository (backup_attach): its id in the database that took it; its archive is bound to that id.';
COMMENT ON COLUMN tenant_backup.backups.source IS
    'For an attached backup: the database that took it (database_prefix, catalog_id, database), from its authenticated record.';

-- An attached backup's data key, kept under a generation of this catalog: origin is
-- '<catalog id>:<generation>' of the catalog that created it. Never a tenant's current key.
ALTER TABLE tenant_backup.tenant_keys ADD COLUMN origin text;
CREATE UNIQUE INDEX tenant_keys_origin_idx ON tenant_backup.tenant_keys (origin, tenant) WHERE origin IS NOT NULL;

CREATE FUNCTION tenant_backup.backup_repository_scan(name text)
RETURNS TABLE (object_name text, state text, backup_id bigint, original_backup_id bigint, tenant text, kind text,
               label text, snapshot_at timestamptz, size_bytes bigint, encrypted boolean, authenticated boolean,
               source text, detail text)
    AS 'MODULE_PATHNAME', 'backup_repository_scan' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_repository_scan(text) IS
    'The backups a repository describes by its own records: known (in this catalog), unknown (attach can add it), damaged (record or archive not as written), keys_missing (its data key is not there or not unwrapped by the configured master key). Changes nothing. Superusers only.';

CREATE FUNCTION tenant_backup.backup_attach(name text, tenant text DEFAULT NULL, object_name text DEFAULT NULL,
                                            trust_unauthenticated boolean DEFAULT false,
                                            source_database text DEFAULT NULL)
RETURNS TABLE (backup_id bigint, original_backup_id bigint, tenant text, object_name text, outcome text, detail text)
    AS 'MODULE_PATHNAME', 'backup_attach' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_attach(text, text, text, boolean, text) IS
    'Adds the backups a repository describes (all, one tenant''s, one source database''s, or one archive) to this catalog under new ids, after checking the record''s authentication and the archive''s SHA-256 and unwrapping its key with the configured master key. Superusers only.';

GRANT EXECUTE ON FUNCTION tenant_backup.backup_repository_scan(text),
    tenant_backup.backup_attach(text, text, text, boolean, text) TO PUBLIC; -- they check superuser themselves

-- Copies are recorded by repository name and object name (relative to the repository; so 0.1.0
-- recorded them too, so no row needs converting); location is derived for display: _location gives where the object is now, backup_list() shows that, and
-- backup_sync() (sync.cpp) brings the stored location columns up to date. Moving the local
-- directory and changing tenant_backup.repository, or a repository's URL, loses nothing: no
-- reader ever uses the stored location. (backup_list is replaced here once more, as issue 23's
-- block defined it, with the location derived.)
CREATE FUNCTION tenant_backup._location(repository text, object_name text, tenant text) RETURNS text
    AS 'MODULE_PATHNAME', 'tenant_backup_location' LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION tenant_backup.backup_list(tenant text DEFAULT NULL)
RETURNS SETOF tenant_backup.backups
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    stored text;
    b tenant_backup.backups;
BEGIN
    IF pg_catalog.octet_length($1) OPERATOR(pg_catalog.>) 1024 THEN
        RAISE EXCEPTION 'tenant is too long (% bytes; at most 1024)', pg_catalog.octet_length($1)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $1 IS NULL THEN
        FOR b IN SELECT x.* FROM tenant_backup.backups x ORDER BY x.created_at DESC, x.id DESC LOOP
            b.location := coalesce(tenant_backup._location(b.repository, b.object_name, b.tenant), b.location);
            RETURN NEXT b;
        END LOOP;
        RETURN;
    END IF;
    stored := tenant_backup._stored_tenant($1);
    FOR b IN SELECT x.* FROM tenant_backup.backups x
             WHERE x.tenant OPERATOR(pg_catalog.=) ANY (ARRAY[$1, stored])
             ORDER BY x.created_at DESC, x.id DESC LOOP
        b.location := coalesce(tenant_backup._location(b.repository, b.object_name, b.tenant), b.location);
        RETURN NEXT b;
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION tenant_backup._location(text, text, text) TO PUBLIC; -- checks backup.view itself

-- DROP EXTENSION tenant_backup is refused while the catalog holds completed backups or tenant
-- keys, unless tenant_backup.drop_confirmed is on; the error says what would be destroyed and that
-- backup_attach brings the backups back. A C event trigger sees the statement's parse tree, so it
-- knows which extensions are dropped, and runs in every session (docs/SECURITY.md lists the limits).
CREATE FUNCTION tenant_backup._refuse_drop() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'tenant_backup_refuse_drop' LANGUAGE C;
CREATE EVENT TRIGGER tenant_backup_refuse_drop ON ddl_command_start WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION tenant_backup._refuse_drop();

--------------------------------------------------------------------------------------------------
-- <issue 20: backups that keep restoring: schema migrations, restore drills>
-- A restore maps the archived columns onto the tables as they are now (src/pg/archive/
-- column_mapping.hpp; docs/REFERENCE.md "Schema drift" states the rules): changed types are
-- converted, a table dropped since the backup is skipped with a WARNING and listed with NULL
-- counts, unless strict => true. A second signature (rather than a DEFAULT on the first), so that
-- the 0.1.0 function and its grants stay as they are.
CREATE FUNCTION tenant_backup.backup_restore(backup_id bigint, strict boolean)
RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint)
    AS 'MODULE_PATHNAME', 'backup_restore' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore(bigint, boolean) IS
    'backup_restore; strict => true refuses a backup of a table dropped since, rather than skipping it.';

-- A restore drill: plans the restore of a backup into the tables as they are now and loads its rows
-- into temporary copies of them, in a subtransaction that is always rolled back. Records the
-- outcome in backups.drilled_at / drill_status / drill_error (backup_status shows the newest's).
CREATE FUNCTION tenant_backup.backup_drill(backup_id bigint)
RETURNS TABLE (ok boolean, tables integer, rows bigint, error text)
    AS 'MODULE_PATHNAME', 'backup_drill' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_drill(bigint) IS
    'Checks that a backup would restore into the tables as they are now, without changing them; records the outcome.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_restore(bigint, boolean), tenant_backup.backup_drill(bigint) TO PUBLIC;

-- Issue 21: restores that can be previewed, undone and aimed. The diff engine compares a backup
-- with its tenant's rows now (or with another backup of the tenant), matched by primary key, else
-- a unique key, else whole rows as a multiset (src/pg/archive/diff_engine.hpp).
CREATE FUNCTION tenant_backup.backup_diff(backup_id bigint, other_backup_id bigint DEFAULT NULL)
RETURNS TABLE (table_name text, matched_by text, only_in_backup bigint, only_live bigint, changed bigint,
               unchanged bigint)
    AS 'MODULE_PATHNAME', 'backup_diff' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_diff(bigint, bigint) IS
    'Per table of the backup: rows only in it (a restore adds them back), only live (a restore removes them; with other_backup_id, only in that backup), changed and unchanged. Needs backup.view.';
CREATE FUNCTION tenant_backup.backup_diff_rows(backup_id bigint, other_backup_id bigint DEFAULT NULL,
                                               max_rows integer DEFAULT 1000)
RETURNS TABLE (table_name text, kind text, key jsonb, before jsonb, after jsonb)
    AS 'MODULE_PATHNAME', 'backup_diff_rows' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_diff_rows(bigint, bigint, integer) IS
    'Each difference between the backup (after) and the tenant''s rows now or other_backup_id (before): kind only_in_backup, only_live or changed, the key, both rows as jsonb; at most max_rows. Needs backup.download.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_diff(bigint, bigint),
    tenant_backup.backup_diff_rows(bigint, bigint, integer) TO PUBLIC;

-- Undo: every restore first backs up the tenant as it is, kind pre_restore (unless
-- tenant_backup.pre_restore_backup is off); the scheduler deletes them after
-- tenant_backup.pre_restore_retention days. They count against no quota.
ALTER TABLE tenant_backup.backups DROP CONSTRAINT backups_kind_check;
ALTER TABLE tenant_backup.backups ADD CONSTRAINT backups_kind_check
    CHECK (kind IN ('manual', 'auto', 'imported', 'pre_restore'));

-- Preview and undo: another signature (the one-argument form keeps its result; dry_run has no
-- default, so that backup_restore(id) still means the one-argument form; with issue 20's
-- backup_restore(id, strict), two positional arguments are ambiguous: name them). strict as there.
CREATE FUNCTION tenant_backup.backup_restore(backup_id bigint, dry_run boolean, pre_restore_backup boolean DEFAULT NULL,
                                             mode text DEFAULT 'exact', tables regclass[] DEFAULT NULL,
                                             strict boolean DEFAULT false)
RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint, only_in_backup bigint, only_live bigint,
               changed bigint, unchanged bigint, pre_restore_backup_id bigint)
    AS 'MODULE_PATHNAME', 'backup_restore_with_options' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore(bigint, boolean, boolean, text, regclass[], boolean) IS
    'dry_run => true: what the restore would do per table (rows it removes and loads; rows only in the backup, only live, changed, unchanged), changing nothing (backup.view). Otherwise the restore, after backing up the tenant as it is (kind pre_restore, its id in pre_restore_backup_id; pre_restore_backup => false or tenant_backup.pre_restore_backup = off skips it). mode => ''missing'' only re-inserts rows whose key is gone; tables => restores only those tables; strict => true refuses a table dropped since the backup.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_restore(bigint, boolean, boolean, text, regclass[], boolean) TO PUBLIC;

-- Writers during a restore: an application that writes a tenant's rows while restores may run
-- calls this first in each writing transaction (README, "Restoring a live tenant").
CREATE FUNCTION tenant_backup.tenant_writing(tenant text) RETURNS void
    AS 'MODULE_PATHNAME', 'tenant_writing' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION tenant_backup.tenant_writing(text) IS
    'Call first in a transaction that writes the tenant''s rows: it waits while a restore of the tenant runs (and a restore waits for it) until the transaction ends. Other tenants never wait.';
GRANT EXECUTE ON FUNCTION tenant_backup.tenant_writing(text) TO PUBLIC;

-- Issue 21 (aimed at rows; side by side): backup_restore's options form gains rows => (a jsonb
-- of primary-key values per table; src/pg/archive/row_aim.hpp). Replaces the form this issue's
-- block above created (0.2.0 is unreleased): the same arguments, rows last.
DROP FUNCTION tenant_backup.backup_restore(bigint, boolean, boolean, text, regclass[], boolean);
CREATE FUNCTION tenant_backup.backup_restore(backup_id bigint, dry_run boolean, pre_restore_backup boolean DEFAULT NULL,
                                             mode text DEFAULT 'exact', tables regclass[] DEFAULT NULL,
                                             strict boolean DEFAULT false, rows jsonb DEFAULT NULL)
RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint, only_in_backup bigint, only_live bigint,
               changed bigint, unchanged bigint, pre_restore_backup_id bigint)
    AS 'MODULE_PATHNAME', 'backup_restore_with_options' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore(bigint, boolean, boolean, text, regclass[], boolean, jsonb) IS
    'dry_run => true: what the restore would do per table (rows it removes and loads; rows only in the backup, only live, changed, unchanged), changing nothing (backup.view). Otherwise the restore, after backing up the tenant as it is (kind pre_restore, its id in pre_restore_backup_id; pre_restore_backup => false or tenant_backup.pre_restore_backup = off skips it). mode => ''missing'' only re-inserts rows whose key is gone; tables => restores only those tables; rows => ''{"schema.table": [{"id": 17}]}'' only those rows and the rows that reference them; strict => true refuses a table dropped since the backup.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_restore(bigint, boolean, boolean, text, regclass[], boolean, jsonb)
    TO PUBLIC;

-- Side by side: the backup's tables with the tenant's rows in a new schema owned by the caller
-- (src/pg/archive/restore_into.hpp). Needs backup.download.
CREATE FUNCTION tenant_backup.backup_restore_into(backup_id bigint, target_schema name)
RETURNS TABLE (table_name text, restored_as text, rows_restored bigint)
    AS 'MODULE_PATHNAME', 'backup_restore_into' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore_into(bigint, name) IS
    'Materializes the backup''s tables with the tenant''s rows in target_schema (created, owned by the caller; an existing schema must be empty and the caller''s), for inspection; production rows are not touched. Columns as a restore would load them, NOT NULL and the primary key; no other constraint, index, default or trigger. Needs backup.download.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_restore_into(bigint, name) TO PUBLIC;

--------------------------------------------------------------------------------------------------
-- Issue 21 (review, hO): backup_restore(id, true) written positionally. Both issue 20's
-- backup_restore(backup_id, strict) and issue 21's options form matched it (the options form with
-- its other arguments' defaults), and PostgreSQL refused the call as not unique. The options form's
-- dry_run is now of the domain tenant_backup.named_boolean, which a boolean argument matches less
-- exactly than the boolean parameter of the two-argument form: backup_restore(id, true) means
-- backup_restore(id, strict => true), as that form's signature says, and dry_run => ... (or three
-- positional arguments or more) reaches the options form as before. The options form, made in issue
-- 21's blocks above (last with rows =>), is dropped and made again with the same C function,
-- comment and grant. 0.1.0's own calls (backup_restore(id), backup_restore(backup_id => id)) keep their one function (TAP 057
-- checks every 0.1.0 function's calls across the update).
CREATE DOMAIN tenant_backup.named_boolean AS boolean;
COMMENT ON DOMAIN tenant_backup.named_boolean IS
    'A boolean parameter meant to be passed by name (backup_restore''s dry_run): a positional boolean argument prefers a boolean parameter of another signature.';
DROP FUNCTION tenant_backup.backup_restore(bigint, boolean, boolean, text, regclass[], boolean, jsonb);
CREATE FUNCTION tenant_backup.backup_restore(backup_id bigint, dry_run tenant_backup.named_boolean,
                                             pre_restore_backup boolean DEFAULT NULL, mode text DEFAULT 'exact',
                                             tables regclass[] DEFAULT NULL, strict boolean DEFAULT false,
                                             rows jsonb DEFAULT NULL)
RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint, only_in_backup bigint, only_live bigint,
               changed bigint, unchanged bigint, pre_restore_backup_id bigint)
    AS 'MODULE_PATHNAME', 'backup_restore_with_options' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore(bigint, tenant_backup.named_boolean, boolean, text, regclass[], boolean, jsonb) IS
    'dry_run => true: what the restore would do per table (rows it removes and loads; rows only in the backup, only live, changed, unchanged), changing nothing (backup.view). Otherwise the restore, after backing up the tenant as it is (kind pre_restore, its id in pre_restore_backup_id; pre_restore_backup => false or tenant_backup.pre_restore_backup = off skips it). mode => ''missing'' only re-inserts rows whose key is gone; tables => restores only those tables; rows => ''{"schema.table": [{"id": 17}]}'' only those rows and the rows that reference them; strict => true refuses a table dropped since the backup. Pass dry_run by name: backup_restore(id, true) is backup_restore(id, strict).';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_restore(bigint, tenant_backup.named_boolean, boolean, text, regclass[], boolean, jsonb)
    TO PUBLIC;

-- Issue 21: restores that apply only the differences (src/pg/archive/diff_apply.hpp). No new
-- function: the options form's only_in_backup, only_live, changed and unchanged columns, which a
-- preview fills, now say what a restore wrote (rows added, removed, changed, left alone) for each
-- table restored by its differences; rows_removed and rows_restored count as in 0.1.0. Only its
-- comment, defined in issue 21's blocks above (last in hO's review block), is replaced here.
COMMENT ON FUNCTION tenant_backup.backup_restore(bigint, tenant_backup.named_boolean, boolean, text, regclass[], boolean, jsonb) IS
    'dry_run => true: what the restore would do per table (rows it replaces and restores; rows only in the backup, only live, changed, unchanged), changing nothing (backup.view). Otherwise the restore, after backing up the tenant as it is (kind pre_restore, its id in pre_restore_backup_id; pre_restore_backup => false or tenant_backup.pre_restore_backup = off skips it); tables with a key get only the differences (only_in_backup added, only_live removed, changed updated). mode => ''missing'' only re-inserts rows whose key is gone; tables => restores only those tables; rows => ''{"schema.table": [{"id": 17}]}'' only those rows and the rows that reference them; strict => true refuses a table dropped since the backup. Pass dry_run by name: backup_restore(id, true) is backup_restore(id, strict).';

-- A dropped table's row of tenant_backup.registered_tables goes with it (backup_restore_into
-- excludes each copy it makes; backup_register_table and backup_exclude_table rows too): a row
-- left behind would name the OID of the next table that reuses it.
CREATE FUNCTION tenant_backup._forget_dropped_tables() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM tenant_backup.registered_tables r USING pg_catalog.pg_event_trigger_dropped_objects() d
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.objsubid OPERATOR(pg_catalog.=) 0 AND r.tbl::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid;
END
$$;
REVOKE EXECUTE ON FUNCTION tenant_backup._forget_dropped_tables() FROM PUBLIC;
CREATE EVENT TRIGGER tenant_backup_forget_dropped_tables ON sql_drop
    EXECUTE FUNCTION tenant_backup._forget_dropped_tables();

--------------------------------------------------------------------------------------------------
-- Issue 20: verification and restore drills on a cadence, and drills after DDL (docs/SCHEDULES.md
-- "Verification and restore drills"; src/pg/scheduler/checks.hpp). Each tenant's newest completed
-- backup is verified, every stored copy of it, every tenant_backup.verify_interval, and drilled
-- every tenant_backup.drill_interval, at times spread by a hash of the tenant; a schema change to a
-- table drills the newest backups that hold it. The scheduler's check workers take the due
-- tenants one per transaction (FOR UPDATE SKIP LOCKED), by these indexes.
CREATE TABLE tenant_backup.check_state (
    tenant         text PRIMARY KEY,
    cadence_key    text NOT NULL,        -- the intervals next_verify_at and next_drill_at were computed under
    next_verify_at timestamptz,          -- NULL: not verified on a cadence (verify_interval = 0)
    next_drill_at  timestamptz,          -- NULL: not drilled on a cadence (drill_interval = 0)
    schema_seen    bigint NOT NULL DEFAULT 0  -- the schema_changes generation its newest backup was checked against
);
CREATE INDEX check_state_verify_idx ON tenant_backup.check_state (next_verify_at) WHERE next_verify_at IS NOT NULL;
CREATE INDEX check_state_drill_idx ON tenant_backup.check_state (next_drill_at) WHERE next_drill_at IS NOT NULL;
CREATE INDEX check_state_schema_idx ON tenant_backup.check_state (schema_seen);
COMMENT ON TABLE tenant_backup.check_state IS
    'The scheduler''s memory per tenant with a completed backup: when its newest backup is verified and drilled next.';

-- When a copy was last verified whole (the scheduler's cadence reads every copy).
ALTER TABLE tenant_backup.backup_copies ADD COLUMN verified_at timestamptz;

-- Schema changes, one row per table (not per tenant): ALTER TABLE and DROP TABLE of a table
-- outside the extension (temporary tables aside) record its OID with a new generation. A tenant
-- whose schema_seen is older, and whose newest backup holds a changed table (or one whose name no
-- longer resolves), gets a restore drill at the scheduler's next pass.
CREATE SEQUENCE tenant_backup.schema_changes_generation_seq;
CREATE TABLE tenant_backup.schema_changes (
    relid      oid PRIMARY KEY,
    generation bigint NOT NULL,
    changed_at timestamptz NOT NULL
);
CREATE INDEX schema_changes_generation_idx ON tenant_backup.schema_changes (generation);
-- (SECURITY DEFINER: the role running the DDL need not write the extension's tables; it records
-- only OIDs PostgreSQL hands it.)
CREATE FUNCTION tenant_backup._schema_changed() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_EVENT = 'sql_drop' THEN
        INSERT INTO tenant_backup.schema_changes AS s (relid, generation, changed_at)
        SELECT d.relid, nextval('tenant_backup.schema_changes_generation_seq'), now()
        FROM (SELECT DISTINCT o.objid AS relid FROM pg_event_trigger_dropped_objects() o
              WHERE o.classid = 'pg_catalog.pg_class'::regclass AND o.objsubid = 0 AND o.object_type = 'table'
                AND o.original AND NOT o.is_temporary AND o.schema_name <> 'tenant_backup') d
        ON CONFLICT (relid) DO UPDATE SET generation = excluded.generation, changed_at = excluded.changed_at;
    ELSE
        INSERT INTO tenant_backup.schema_changes AS s (relid, generation, changed_at)
        SELECT d.relid, nextval('tenant_backup.schema_changes_generation_seq'), now()
        FROM (SELECT DISTINCT c.objid AS relid FROM pg_event_trigger_ddl_commands() c
              JOIN pg_class r ON r.oid = c.objid
              WHERE c.classid = 'pg_catalog.pg_class'::regclass AND NOT c.in_extension
                AND r.relkind IN ('r', 'p') AND r.relpersistence <> 't'
                AND r.relnamespace <> 'tenant_backup'::regnamespace) d
        ON CONFLICT (relid) DO UPDATE SET generation = excluded.generation, changed_at = excluded.changed_at;
    END IF;
END
$$;
CREATE EVENT TRIGGER tenant_backup_schema_changed ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION tenant_backup._schema_changed();
CREATE EVENT TRIGGER tenant_backup_table_dropped ON sql_drop WHEN TAG IN ('DROP TABLE')
    EXECUTE FUNCTION tenant_backup._schema_changed();

--------------------------------------------------------------------------------------------------
-- Issue 18 (continued): master key rotation re-seals the repositories; tombstones of deleted
-- backups and forgotten tenants; DROP OWNED guarded (docs/FORMAT.md "Tombstones", "Master key
-- rotation"; docs/ENCRYPTION.md "Rotation").
-- Tombstones that could not be written when their backup was deleted or their tenant forgotten (a
-- repository out of reach): backup_sync() writes them, sealed under the master key of then.
CREATE TABLE tenant_backup.pending_tombstones (
    repository  text NOT NULL,
    object_name text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, object_name)
);

-- backup_rotate_master_key() re-seals every writable repository (records and tombstones
-- authenticated, key records wrapped, under the new master key); a pass not finished (a
-- repository out of reach, a cancel of the sync) goes on in backup_sync() after resealed_through,
-- the last object name done. finished_at: every object handled; then the old key may go.
CREATE TABLE tenant_backup.repository_reseal (
    repository       text PRIMARY KEY,
    master_key_id    text NOT NULL,
    resealed_through text NOT NULL DEFAULT '',
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    error            text
);
COMMENT ON TABLE tenant_backup.repository_reseal IS
    'Master key rotation in the repositories: per repository, the pass re-sealing its records under master_key_id; finished_at set when done.';

-- backup_attach gets allow_deleted (replaces the issue 18 definition above; a new argument takes
-- a new function).
DROP FUNCTION tenant_backup.backup_attach(text, text, text, boolean, text);
CREATE FUNCTION tenant_backup.backup_attach(name text, tenant text DEFAULT NULL, object_name text DEFAULT NULL,
                                            trust_unauthenticated boolean DEFAULT false,
                                            source_database text DEFAULT NULL,
                                            allow_deleted boolean DEFAULT false)
RETURNS TABLE (backup_id bigint, original_backup_id bigint, tenant text, object_name text, outcome text, detail text)
    AS 'MODULE_PATHNAME', 'backup_attach' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_attach(text, text, text, boolean, text, boolean) IS
    'Adds the backups a repository describes (all, one tenant''s, one source database''s, or one archive) to this catalog under new ids, after checking the record''s authentication and the archive''s SHA-256 and unwrapping its key with the configured master key. A backup with a tombstone (deleted, or its tenant forgotten) is refused unless allow_deleted => true. Superusers only.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_attach(text, text, text, boolean, text, boolean) TO PUBLIC; -- checks superuser itself

COMMENT ON FUNCTION tenant_backup.backup_repository_scan(text) IS
    'The backups a repository describes by its own records: known (in this catalog), unknown (attach can add it), damaged (record or archive not as written), keys_missing (its data key is not there or not unwrapped by the configured master key), deleted (a tombstone says it was deleted), forgotten (a tombstone says its tenant was forgotten after it was taken). Changes nothing. Superusers only.';

-- DROP OWNED BY a role owning the extension (or its schema) drops it with its catalog: refused
-- as DROP EXTENSION is (the trigger is created again with the new tag; its function is as above).
DROP EVENT TRIGGER tenant_backup_refuse_drop;
CREATE EVENT TRIGGER tenant_backup_refuse_drop ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION tenant_backup._refuse_drop();

--------------------------------------------------------------------------------------------------
-- Issue 21 (hB): backup_restore_async takes backup_restore's options. The job runs its restore
-- through the one entry of every restore (src/pg/archive/restore.hpp, run_restore) with the
-- options it was submitted with (src/pg/archive/restore_request.hpp): dry_run, pre_restore_backup,
-- mode, tables, strict, rows; by default, as every restore, it first backs up the tenant as it is
-- (kind pre_restore), and the job records that backup's id. issue 19's backup_restore_async(bigint)
-- and (bigint, boolean) stay as they are (they are not in 0.1.0, but they keep their calls); the
-- options form is another signature, dry_run of the domain named_boolean as in backup_restore's
-- options form, so that backup_restore_async(id, true) still means (id, strict => true).
-- options: the options besides strict, as a jsonb object (NULL for jobs submitted before this
-- block: every default); result: one object per row of backup_restore's options form, under its
-- column names; pre_restore_backup_id: the backup that undoes the restore (NULL: none taken).
ALTER TABLE tenant_backup.backup_jobs ADD COLUMN options jsonb;
ALTER TABLE tenant_backup.backup_jobs ADD COLUMN pre_restore_backup_id bigint;
CREATE FUNCTION tenant_backup.backup_restore_async(backup_id bigint, dry_run tenant_backup.named_boolean,
                                                   pre_restore_backup boolean DEFAULT NULL, mode text DEFAULT 'exact',
                                                   tables regclass[] DEFAULT NULL, strict boolean DEFAULT false,
                                                   rows jsonb DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_restore_async_with_options' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore_async(bigint, tenant_backup.named_boolean, boolean, text, regclass[], boolean, jsonb) IS
    'backup_restore(backup_id, dry_run => ..., ...) with the same options, run by a background worker as the caller once this transaction commits; returns the job id at once. The job records the rows that call returns in result, and the pre_restore backup that undoes it in pre_restore_backup_id.';
COMMENT ON FUNCTION tenant_backup.backup_restore_async(bigint) IS
    'backup_restore run by a background worker as the caller once this transaction commits; returns the job id at once (backup_job(id): its result, and the pre_restore backup that undoes it).';
GRANT EXECUTE ON FUNCTION
    tenant_backup.backup_restore_async(bigint, tenant_backup.named_boolean, boolean, text, regclass[], boolean, jsonb)
    TO PUBLIC;
-- backup_restore_into makes a table dropped since the backup with the NOT NULL columns, primary
-- key and unique keys its archive recorded, each added once the rows are in.
COMMENT ON FUNCTION tenant_backup.backup_restore_into(bigint, name) IS
    'Materializes the backup''s tables with the tenant''s rows in target_schema (created, owned by the caller; an existing schema must be empty and the caller''s), for inspection; production rows are not touched. Columns as a restore would load them and the primary key; a table dropped since the backup also gets the NOT NULL columns and unique keys its archive recorded (one the rows do not satisfy is left out with a WARNING). No other constraint, index, default or trigger. Needs backup.download.';

-- Issue 18 (the remaining gaps, hA): forgetting retried, repositories moved by SQL, DROP
-- EXTENSION refused while backups have no record (docs/REFERENCE.md, docs/STORAGE.md).
-- When each own backup's record (and its tenant's key record) was first written to a repository:
-- NULL for the backups of 0.1.0 until backup_sync() describes them, and for one whose record could
-- not be written. DROP EXTENSION is refused while a completed backup has none (attach could not
-- bring it back), saying to run backup_sync() first.
ALTER TABLE tenant_backup.backups ADD COLUMN described_at timestamptz;
COMMENT ON COLUMN tenant_backup.backups.described_at IS
    'When the backup''s record (and its tenant''s key record) was first written beside one of its copies; NULL: no repository describes it yet (backup_sync() writes it).';

-- backup_forget_tenant's removal of a tenant's key records, repeated by backup_sync() (and the
-- periodic sync) in each writable repository until it succeeded there: a repository out of reach
-- when the tenant was forgotten, or an object that could not be removed when that committed. The
-- tenant is kept as its SHA-256 only; key records of the tenant written after forgotten_at (a
-- tenant of the same name backed up again) are never removed.
CREATE TABLE tenant_backup.pending_key_removals (
    repository    text NOT NULL,
    prefix        text NOT NULL,          -- the database prefix whose keys/ hold the records
    tenant_sha256 text NOT NULL CHECK (tenant_sha256 ~ '^[0-9a-f]{64}$'),
    forgotten_at  timestamptz NOT NULL,
    error         text,                   -- why the last attempt failed
    PRIMARY KEY (repository, prefix, tenant_sha256)
);
COMMENT ON TABLE tenant_backup.pending_key_removals IS
    'Key records of forgotten tenants still to be removed from a repository; backup_sync() removes them and the row.';

-- A repository's URL, options or read-only flag changed in place (a bucket or directory moved):
-- its copies are recorded by name, so they are found at the new URL.
CREATE FUNCTION tenant_backup.backup_repository_alter(name text, url text DEFAULT NULL, options jsonb DEFAULT NULL,
                                                      read_only boolean DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'backup_repository_alter' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_repository_alter(text, text, jsonb, boolean) IS
    'Changes a repository''s URL, its driver options (replaced whole) or read_only; NULL leaves each as it is. Copies are recorded by repository and object name, so they are found at the new URL. Superusers only.';
GRANT EXECUTE ON FUNCTION tenant_backup.backup_repository_alter(text, text, jsonb, boolean) TO PUBLIC; -- checks superuser itself

COMMENT ON FUNCTION tenant_backup.backup_repository_scan(text) IS
    'Every backup a repository holds: known (in this catalog), unknown (attach can add it), damaged (record or archive not as written), keys_missing (its data key is not there or not unwrapped by the configured master key), deleted (a tombstone says it was deleted), forgotten (a tombstone says its tenant was forgotten after it was taken), no_record (an archive without its record: attach cannot add it; backup_sync() writes the records of this catalog''s own). Changes nothing. Superusers only.';

--------------------------------------------------------------------------------------------------
-- Issue 21 (review of hB): an asynchronous preview (backup_restore_async(id, dry_run => true)) is
-- a job of its own kind, 'preview', so that a list of jobs does not show it as a restore.
ALTER TABLE tenant_backup.backup_jobs DROP CONSTRAINT backup_jobs_kind_check;
ALTER TABLE tenant_backup.backup_jobs ADD CONSTRAINT backup_jobs_kind_check
    CHECK (kind IN ('restore', 'preview', 'backup'));
UPDATE tenant_backup.backup_jobs SET kind = 'preview'
WHERE kind = 'restore' AND coalesce((options ->> 'dry_run')::boolean, false);

--------------------------------------------------------------------------------------------------
-- Issue 21 (speed): what a backup's snapshot had seen, so that a comparison with the rows now can
-- tell a row unchanged since the backup by its xmin without encoding it (unchanged_rows.hpp in
-- the source). NULL for backups taken before, attached or imported: their rows are compared whole.
ALTER TABLE tenant_backup.backups
    ADD COLUMN snapshot_xmin xid8,
    ADD COLUMN system_identifier text,
    ADD COLUMN snapshot_timeline integer,
    ADD COLUMN snapshot_lsn pg_lsn;
COMMENT ON COLUMN tenant_backup.backups.snapshot_xmin IS
    'Every transaction older than this had ended when the backup read the tenant''s rows (the xmin of its snapshot, or its own transaction''s id if older). A comparison with the rows now (backup_diff, a restore''s differences) takes a row inserted before it and never updated since as unchanged, when the table, its columns and the cluster are as they were. NULL: unknown (taken by 0.1.0, attached, imported, or under a client encoding other than the database''s).';
COMMENT ON COLUMN tenant_backup.backups.system_identifier IS
    'The cluster''s system identifier when the backup was taken (pg_control_system()), with snapshot_xmin: transaction ids of another cluster mean nothing here.';
COMMENT ON COLUMN tenant_backup.backups.snapshot_timeline IS
    'The WAL timeline and position (with snapshot_lsn) when the backup read the tenant''s rows, with snapshot_xmin: a server restored to a point before them (a point-in-time recovery, which starts a new timeline) gives out those transaction ids again. Only backups of the current timeline, behind its WAL, are trusted.';
COMMENT ON COLUMN tenant_backup.backups.snapshot_lsn IS
    'See snapshot_timeline.';
