-- tenant_backup 0.1.0 -> 0.2.0.
-- 0.1.0 is released: its install script never changes. A fresh CREATE EXTENSION installs 0.1.0
-- and applies this script, so this file is the only place the 0.2.0 catalog and API are defined
-- beyond 0.1.0. Archives written by 0.1.0 keep verifying and restoring (test/t/013_upgrade.pl).
\echo Use "ALTER EXTENSION tenant_backup UPDATE TO '0.2.0'" to load this file. \quit

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
