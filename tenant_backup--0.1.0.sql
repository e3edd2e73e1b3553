-- tenant_backup 0.1.0: per-tenant backup and restore.
\echo Use "CREATE EXTENSION tenant_backup" to load this file. \quit

-- The catalog of backups. One row per backup; the archive lives in the repository
-- (tenant_backup.repository) under object_name.
CREATE TABLE tenant_backup.backups (
    id             bigserial PRIMARY KEY,
    tenant         text NOT NULL,
    kind           text NOT NULL DEFAULT 'manual' CHECK (kind IN ('manual', 'auto', 'imported')),
    label          text,
    status         text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    snapshot_at    timestamptz,
    server_version text NOT NULL DEFAULT current_setting('server_version'),
    tables         jsonb NOT NULL DEFAULT '[]',
    row_count      bigint,
    size_bytes     bigint,
    sha256         text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    compression    text,
    repository     text NOT NULL DEFAULT 'local',
    object_name    text,
    location       text,
    error          text,
    pinned         boolean NOT NULL DEFAULT false,
    keep_until     timestamptz,
    encrypted      boolean NOT NULL DEFAULT false,
    key_generation integer,
    verified_at    timestamptz,
    verify_status  text CHECK (verify_status IN ('ok', 'failed')),
    verify_error   text,
    CHECK (encrypted = (key_generation IS NOT NULL)),
    CHECK (status <> 'completed' OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL AND object_name IS NOT NULL))
);
CREATE INDEX backups_tenant_created_idx ON tenant_backup.backups (tenant, created_at DESC);
COMMENT ON TABLE tenant_backup.backups IS 'One row per tenant backup; see tenant_backup.backup_list().';

-- Each tenant's data-encryption keys, only ever stored wrapped (AES-256-GCM) under a master key
-- that lives outside the database (tenant_backup.encryption_key_file / _command). A generation
-- is never reused; deleting a tenant's rows here makes its encrypted archives undecryptable.
CREATE SEQUENCE tenant_backup.tenant_keys_generation_seq AS integer;
CREATE TABLE tenant_backup.tenant_keys (
    generation    integer PRIMARY KEY,
    tenant        text NOT NULL,
    wrapped_key   bytea NOT NULL,
    master_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    rotated_at    timestamptz
);
CREATE INDEX tenant_keys_tenant_idx ON tenant_backup.tenant_keys (tenant, generation DESC);

-- Explicit choices that override discovery by tenant_backup.tenant_column.
CREATE TABLE tenant_backup.registered_tables (
    tbl           regclass PRIMARY KEY,
    tenant_column name,
    excluded      boolean NOT NULL DEFAULT false,
    CHECK (excluded OR tenant_column IS NOT NULL)
);

-- Who holds which of the four backup permissions, for one tenant or (tenant NULL) for all.
-- Superusers and the extension's owner hold all four without a row here. Managed with
-- backup_grant / backup_revoke; role membership counts (pg_has_role ... 'MEMBER').
CREATE TABLE tenant_backup.permissions (
    role_id    oid NOT NULL,
    permission text NOT NULL
               CHECK (permission IN ('backup.view', 'backup.create', 'backup.download', 'backup.restore')),
    tenant     text,
    granted_by name NOT NULL DEFAULT current_user,
    granted_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX permissions_unique_idx
    ON tenant_backup.permissions (role_id, permission, coalesce(tenant, ''), (tenant IS NULL));

-- Every action and every denied or failed attempt. Denied and failed attempts are written by a
-- background worker in a transaction of their own, so they stay recorded when the caller's
-- transaction aborts. Append-only for everyone but superusers.
CREATE TABLE tenant_backup.backup_audit (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    session_user_name name NOT NULL,
    current_user_name name NOT NULL,
    client_addr    inet,
    tenant         text,
    backup_id      bigint,
    action         text NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    error          text
);
CREATE INDEX backup_audit_tenant_idx ON tenant_backup.backup_audit (tenant, at);
CREATE FUNCTION tenant_backup._audit_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'tenant_backup.backup_audit is append-only'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only superusers may change or remove audit rows.';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER backup_audit_append_only BEFORE UPDATE OR DELETE ON tenant_backup.backup_audit
    FOR EACH ROW EXECUTE FUNCTION tenant_backup._audit_append_only();
CREATE TRIGGER backup_audit_no_truncate BEFORE TRUNCATE ON tenant_backup.backup_audit
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_backup._audit_append_only();

SELECT pg_catalog.pg_extension_config_dump('tenant_backup.backups', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.permissions', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.backup_audit', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.backup_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.backups_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.registered_tables', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.tenant_keys', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.tenant_keys_generation_seq', '');

CREATE FUNCTION tenant_backup._tenant_column() RETURNS text
    AS 'MODULE_PATHNAME', 'tenant_backup_tenant_column' LANGUAGE C STABLE STRICT;

CREATE FUNCTION tenant_backup._stored_tenant(tenant text) RETURNS text
    AS 'MODULE_PATHNAME', 'tenant_backup_stored_tenant' LANGUAGE C STABLE STRICT;

CREATE FUNCTION tenant_backup.backup_tables()
RETURNS TABLE (table_name regclass, tenant_column name, tenant_type regtype, has_index boolean, source text)
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
    SELECT c.oid::regclass, k.col, a.atttypid::regtype,
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum),
           k.source
    FROM candidates k
    JOIN pg_class c ON c.oid = k.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = k.col AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY n.nspname, c.relname
$$;
COMMENT ON FUNCTION tenant_backup.backup_tables() IS
    'Exactly the tables a backup will contain, with their tenant column and whether an index leads with it.';

CREATE FUNCTION tenant_backup.backup_register_table(tbl regclass, tenant_column name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
    coltype regtype;
BEGIN
    IF tbl IS NULL OR tenant_column IS NULL THEN
        RAISE EXCEPTION 'tbl and tenant_column must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relispartition INTO rel FROM pg_class c WHERE c.oid = tbl;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF rel.relispartition THEN
        RAISE EXCEPTION '% is a partition', tbl USING ERRCODE = 'wrong_object_type',
            HINT = 'Register its partitioned table: a backup reads all partitions through it.';
    END IF;
    SELECT a.atttypid::regtype INTO coltype FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', tenant_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF coltype NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'text'::regtype,
                       'character varying'::regtype, 'uuid'::regtype) THEN
        RAISE EXCEPTION 'tenant column "%" of table % has type %', tenant_column, tbl, coltype
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'A tenant column must be smallint, integer, bigint, text, varchar or uuid.';
    END IF;
    INSERT INTO tenant_backup.registered_tables AS r (tbl, tenant_column, excluded)
    VALUES (tbl, tenant_column, false)
    ON CONFLICT ON CONSTRAINT registered_tables_pkey
        DO UPDATE SET tenant_column = excluded.tenant_column, excluded = false;
END
$$;

CREATE FUNCTION tenant_backup.backup_exclude_table(tbl regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'tbl must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO tenant_backup.registered_tables AS r (tbl, tenant_column, excluded)
    VALUES (tbl, NULL, true)
    ON CONFLICT ON CONSTRAINT registered_tables_pkey DO UPDATE SET excluded = true;
END
$$;

CREATE FUNCTION tenant_backup.backup_create(tenant text, label text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_create' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_create(text, text) IS
    'Backs up every row of one tenant, from one snapshot, into the repository; returns the backup id.';

CREATE FUNCTION tenant_backup.backup_restore(backup_id bigint)
RETURNS TABLE (table_name text, rows_removed bigint, rows_restored bigint)
    AS 'MODULE_PATHNAME', 'backup_restore' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_restore(bigint) IS
    'Replaces the tenant''s rows with those of the backup, atomically, after checking the archive''s SHA-256.';

CREATE FUNCTION tenant_backup.backup_delete(backup_id bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'backup_delete' LANGUAGE C VOLATILE;

CREATE FUNCTION tenant_backup.backup_verify(backup_id bigint)
RETURNS TABLE (ok boolean, tables integer, rows bigint, error text)
    AS 'MODULE_PATHNAME', 'backup_verify' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_verify(bigint) IS
    'Checks a backup''s archive end to end (checksum, every chunk, every row) and records the outcome.';

CREATE FUNCTION tenant_backup.backup_rotate_master_key() RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_rotate_master_key' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_rotate_master_key() IS
    'Re-wraps every tenant key under the current master key; archives are not rewritten.';

CREATE FUNCTION tenant_backup.backup_forget_tenant(tenant text) RETURNS text
    AS 'MODULE_PATHNAME', 'backup_forget_tenant' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_forget_tenant(text) IS
    'Destroys a tenant''s encryption keys, archives and catalog rows (crypto-shredding).';

CREATE FUNCTION tenant_backup.backup_download(backup_id bigint) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'backup_download' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_download(bigint) IS
    'The backup as one JSON document, one line per row (see docs/FORMAT.md); write the rows verbatim, e.g. psql -At.';

CREATE FUNCTION tenant_backup.backup_export_csv(backup_id bigint, tbl regclass) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'backup_export_csv' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_export_csv(bigint, regclass) IS
    'One table of a backup as CSV with a header line, one row of text per record.';

CREATE FUNCTION tenant_backup.tenant_export_csv(tenant text, tbl regclass) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'tenant_export_csv' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.tenant_export_csv(text, regclass) IS
    'A tenant''s current rows of one tenant table as CSV with a header line, one row of text per record.';

CREATE FUNCTION tenant_backup.backup_import(document text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_import' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_import(text) IS
    'Checks a downloaded JSON document and stores it as a backup of kind imported; returns its id.';

CREATE FUNCTION tenant_backup.backup_import_large_object(document oid) RETURNS bigint
    AS 'MODULE_PATHNAME', 'backup_import_large_object' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_import_large_object(oid) IS
    'backup_import for a document uploaded as a large object (lo_import, psql \lo_import), read in pieces.';

CREATE FUNCTION tenant_backup._may(permission text, tenant text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tenant_backup_may' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION tenant_backup._may(text, text) IS
    'Whether the current user holds the backup permission on the tenant (for row-level security).';

CREATE FUNCTION tenant_backup.backup_grant(role regrole, permission text, tenant text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'backup_grant' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_grant(regrole, text, text) IS
    'Grants backup.view, backup.create, backup.download or backup.restore on one tenant (NULL: every tenant).';

CREATE FUNCTION tenant_backup.backup_revoke(role regrole, permission text, tenant text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'backup_revoke' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_revoke(regrole, text, text) IS
    'Revokes a grant made by backup_grant (the same role, permission and tenant).';

CREATE FUNCTION tenant_backup.backup_grants()
RETURNS TABLE (role regrole, permission text, tenant text, granted_by name, granted_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.role_id::regrole, p.permission, p.tenant, p.granted_by, p.granted_at
    FROM tenant_backup.permissions p
    ORDER BY p.role_id::regrole::text, p.permission, p.tenant NULLS FIRST
$$;

CREATE FUNCTION tenant_backup.backup_list(tenant text DEFAULT NULL)
RETURNS SETOF tenant_backup.backups
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT b.* FROM tenant_backup.backups b
    WHERE $1 IS NULL OR b.tenant IN ($1, tenant_backup._stored_tenant($1))
    ORDER BY b.created_at DESC, b.id DESC
$$;

-- Schedules (run by the scheduler background worker; see README "Nightly schedules"). The row
-- with tenant NULL is the default for every tenant; a tenant's own row overrides it.
CREATE TABLE tenant_backup.schedules (
    tenant         text UNIQUE NULLS NOT DISTINCT,
    cron           text NOT NULL,
    time_zone      text NOT NULL,
    keep_last      integer NOT NULL CHECK (keep_last >= 0),
    keep_days      integer NOT NULL DEFAULT 0 CHECK (keep_days >= 0),
    keep_daily     integer NOT NULL DEFAULT 0 CHECK (keep_daily >= 0),
    keep_weekly    integer NOT NULL DEFAULT 0 CHECK (keep_weekly >= 0),
    keep_monthly   integer NOT NULL DEFAULT 0 CHECK (keep_monthly >= 0),
    window_minutes integer NOT NULL DEFAULT 0 CHECK (window_minutes BETWEEN 0 AND 1440),
    enabled        boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    repositories   text -- the schedule's own tenant_backup.repositories; NULL: the setting's
);
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.schedules', '');

-- The scheduler's memory per tenant: when it runs next (a stored time, so that runs missed while
-- the server was down happen once after start-up), the job running now, and failures.
CREATE TABLE tenant_backup.schedule_state (
    tenant               text PRIMARY KEY,
    schedule_key         text,        -- the schedule next_run was computed under
    next_run             timestamptz,
    running_backup_id    bigint,      -- the 'running' backups row of the job in progress
    running_pid          integer,     -- its background worker, once started
    last_attempt_at      timestamptz,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error           text
);

CREATE FUNCTION tenant_backup.backup_schedule_set(
    tenant text DEFAULT NULL, cron text DEFAULT '0 2 * * *', time_zone text DEFAULT 'UTC',
    keep_last integer DEFAULT 14, window_minutes integer DEFAULT 0, enabled boolean DEFAULT true,
    keep_days integer DEFAULT 0, keep_daily integer DEFAULT 0, keep_weekly integer DEFAULT 0,
    keep_monthly integer DEFAULT 0, repositories text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'backup_schedule_set' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_schedule_set(text, text, text, integer, integer, boolean, integer, integer,
    integer, integer, text) IS
    'Sets the backup schedule of a tenant, or (tenant NULL) the default of every tenant. Backup admins only.';

CREATE FUNCTION tenant_backup.backup_schedule_remove(tenant text DEFAULT NULL) RETURNS boolean
    AS 'MODULE_PATHNAME', 'backup_schedule_remove' LANGUAGE C VOLATILE;

CREATE FUNCTION tenant_backup.backup_schedules()
RETURNS TABLE (tenant text, schedule text, cron text, time_zone text, keep_last integer, keep_days integer,
               keep_daily integer, keep_weekly integer, keep_monthly integer, window_minutes integer,
               enabled boolean, next_run timestamptz, last_due_run timestamptz)
    AS 'MODULE_PATHNAME', 'backup_schedules' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_schedules() IS
    'The schedule in force for every tenant, with its next run. Backup admins only.';

CREATE FUNCTION tenant_backup._backup_progress()
RETURNS TABLE (pid integer, backup_id bigint, tenant text, kind text, started_at timestamptz, tables_done integer,
               tables_total integer, current_table text, rows_done bigint, bytes_done bigint)
    AS 'MODULE_PATHNAME', 'tenant_backup_progress' LANGUAGE C VOLATILE;
-- Backups running now in this database (needs tenant_backup in shared_preload_libraries), of the
-- tenants the current user may view: _backup_progress() checks backup.view itself, on the full
-- tenant. bytes_done counts binary row bytes read, before compression.
CREATE VIEW tenant_backup.backup_progress AS
SELECT p.* FROM tenant_backup._backup_progress() p;

-- tenant_backup.scheduler_clock_offset (testing only), for comparing a backup's created_at with
-- scheduled times, which are on the scheduler's clock.
CREATE FUNCTION tenant_backup._scheduler_clock_offset() RETURNS integer
    AS 'MODULE_PATHNAME', 'tenant_backup_scheduler_clock_offset' LANGUAGE C STABLE;

-- One row per tenant: is it protected? Backup admins only (it reads backup_schedules()).
CREATE VIEW tenant_backup.backup_status AS
WITH schedules AS (SELECT * FROM tenant_backup.backup_schedules()),
kept AS (
    SELECT b.tenant, count(*) AS retained_count, sum(b.size_bytes)::bigint AS retained_bytes
    FROM tenant_backup.backups b WHERE b.status = 'completed' GROUP BY b.tenant),
last_completed AS (
    SELECT DISTINCT ON (b.tenant) b.tenant, b.id, b.kind, b.created_at, b.finished_at, b.size_bytes
    FROM tenant_backup.backups b WHERE b.status = 'completed'
    ORDER BY b.tenant, b.created_at DESC, b.id DESC),
tenants AS (SELECT s.tenant FROM schedules s UNION SELECT k.tenant FROM kept k)
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
       coalesce(k.retained_bytes, 0) AS retained_bytes
FROM tenants t
LEFT JOIN schedules s ON s.tenant = t.tenant
LEFT JOIN last_completed l ON l.tenant = t.tenant
LEFT JOIN kept k ON k.tenant = t.tenant
LEFT JOIN tenant_backup.schedule_state st ON st.tenant = t.tenant;
COMMENT ON VIEW tenant_backup.backup_status IS
    'One row per tenant: last completed backup, next run, overdue, failures, retained backups.';

-- Repositories besides the built-in "local" one (the directory of tenant_backup.repository):
-- s3://bucket/prefix or file:///path, with driver options. Never credentials: S3 repositories
-- sign with the server's environment or a credentials_file (see docs/STORAGE.md). Superusers only.
CREATE TABLE tenant_backup.repositories (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$' AND name <> 'local'),
    url        text NOT NULL,
    options    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per copy of a backup's archive: the primary copy (backups.repository) and one per
-- further repository of tenant_backup.repositories at backup time. 'stored' once the object was
-- confirmed with the backup's size and SHA-256; 'missing' with the reason otherwise
-- (backup_sync() stores it later).
CREATE TABLE tenant_backup.backup_copies (
    backup_id   bigint NOT NULL REFERENCES tenant_backup.backups ON DELETE CASCADE,
    repository  text NOT NULL,
    object_name text NOT NULL,
    location    text,
    size_bytes  bigint,
    sha256      text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    stored_at   timestamptz,
    state       text NOT NULL CHECK (state IN ('stored', 'missing')),
    error       text,
    PRIMARY KEY (backup_id, repository),
    CHECK (state <> 'stored' OR (size_bytes IS NOT NULL AND sha256 IS NOT NULL AND stored_at IS NOT NULL))
);
CREATE INDEX backup_copies_repository_idx ON tenant_backup.backup_copies (repository, state);
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.repositories', '');
SELECT pg_catalog.pg_extension_config_dump('tenant_backup.backup_copies', '');

-- Objects of deleted backups (backup_delete, retention, backup_forget_tenant), written in the
-- deleting transaction and removed when it commits; a row stays while its object could not be
-- removed then (an endpoint down), and backup_sync() removes the object and the row later. The
-- catalog's positive word that an object is garbage: backup_sync never removes an object it does
-- not know to be one.
CREATE TABLE tenant_backup.removed_objects (
    repository  text NOT NULL,
    object_name text NOT NULL,
    backup_id   bigint NOT NULL,
    removed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, object_name)
);

CREATE FUNCTION tenant_backup.backup_repository_add(name text, url text, options jsonb DEFAULT '{}') RETURNS void
    AS 'MODULE_PATHNAME', 'backup_repository_add' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_repository_add(text, text, jsonb) IS
    'Adds a repository (s3://bucket/prefix or file:///path) with driver options; never credentials. Superusers only.';

CREATE FUNCTION tenant_backup.backup_repository_remove(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'backup_repository_remove' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_repository_remove(text) IS
    'Removes a repository that holds no stored copy. Superusers only.';

CREATE FUNCTION tenant_backup.backup_repositories()
RETURNS TABLE (name text, url text, options jsonb, layer integer, stored_copies bigint, missing_copies bigint,
               created_at timestamptz)
    AS 'MODULE_PATHNAME', 'backup_repositories' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_repositories() IS
    'Every repository, its position in tenant_backup.repositories (layer) and its copies. Superusers only.';

CREATE FUNCTION tenant_backup.backup_sync()
RETURNS TABLE (backup_id bigint, repository text, action text, object_name text, ok boolean, error text)
    AS 'MODULE_PATHNAME', 'backup_sync' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_sync() IS
    'Makes the repositories hold what the catalog says: records vanished copies as missing (mark_missing), removes objects the catalog knows to be garbage, of deleted or failed backups (remove_leftover), aborts abandoned multipart uploads of its backups (abort_upload), and for every missing copy of a completed backup confirms an object found intact (confirm_copy) or stores it from a healthy copy (store_copy); a repository that cannot be reached is one check row; objects the catalog does not know are never removed. One row per action. Superusers only.';

CREATE FUNCTION tenant_backup.backup_repository_check(name text)
RETURNS TABLE (problem text, object_name text, backup_id bigint, size_bytes bigint)
    AS 'MODULE_PATHNAME', 'backup_repository_check' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION tenant_backup.backup_repository_check(text) IS
    'Stored copies without their object (missing_object) or of another size (size_mismatch), objects the catalog knows to be garbage (leftover_object: backup_sync removes them), objects named like ours that the catalog does not know (orphan_object: left alone), multipart uploads never completed (incomplete_upload). Changes nothing. Superusers only.';

-- Access. Nothing is open to PUBLIC except what checks the four backup permissions itself (the
-- functions below, which call tenant_backup._may or its C equivalent for the tenant concerned),
-- and the catalog of backups, whose rows are filtered by row-level security. Catalog tables are
-- written only by our functions (as the extension's owner); tenant tables are always read and
-- written with the caller's own privileges.
REVOKE ALL ON ALL TABLES IN SCHEMA tenant_backup FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA tenant_backup FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tenant_backup FROM PUBLIC;
GRANT USAGE ON SCHEMA tenant_backup TO PUBLIC;
GRANT EXECUTE ON FUNCTION
    tenant_backup.backup_create(text, text), tenant_backup.backup_restore(bigint),
    tenant_backup.backup_delete(bigint), tenant_backup.backup_verify(bigint),
    tenant_backup.backup_download(bigint), tenant_backup.backup_export_csv(bigint, regclass),
    tenant_backup.tenant_export_csv(text, regclass), tenant_backup.backup_import(text),
    tenant_backup.backup_import_large_object(oid), tenant_backup.backup_list(text),
    tenant_backup._may(text, text), tenant_backup._stored_tenant(text), tenant_backup._backup_progress(),
    tenant_backup._scheduler_clock_offset(),
    -- admin-only functions check it themselves, so that denied attempts reach the audit trail
    tenant_backup.backup_grant(regrole, text, text), tenant_backup.backup_revoke(regrole, text, text),
    tenant_backup.backup_rotate_master_key(), tenant_backup.backup_forget_tenant(text),
    tenant_backup.backup_schedule_set(text, text, text, integer, integer, boolean, integer, integer, integer, integer,
                                     text),
    tenant_backup.backup_schedule_remove(text), tenant_backup.backup_schedules(),
    -- superuser-only functions check it themselves, for the same reason
    tenant_backup.backup_repository_add(text, text, jsonb), tenant_backup.backup_repository_remove(text),
    tenant_backup.backup_repositories(), tenant_backup.backup_sync(), tenant_backup.backup_repository_check(text)
    TO PUBLIC;
GRANT SELECT ON tenant_backup.backup_status, tenant_backup.backup_progress TO PUBLIC; -- backup_schedules() lets backup admins only
ALTER TABLE tenant_backup.backups ENABLE ROW LEVEL SECURITY;
CREATE POLICY backups_view ON tenant_backup.backups FOR SELECT
    USING (tenant_backup._may('backup.view', tenant));
GRANT SELECT ON tenant_backup.backups TO PUBLIC;
