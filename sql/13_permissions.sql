-- tenant_backup regression tests, part 13: the four backup permissions, per tenant, and the
-- audit trail. Roles hold each subset of interest, scoped to tenant 1301 or to every tenant,
-- and call every function on tenant 1301 and on tenant 1302. The printed matrix is the table of
-- docs/PERMISSIONS.md; every call leaves an audit row, denied ones even though the
-- caller's (sub)transaction aborts.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 13000) AS id_base \gset
SET tenant_backup.tenant_column = 'pm_tenant';
SET client_min_messages = error;
SET log_min_error_statement = panic;
\getenv abs_srcdir PG_ABS_SRCDIR
\set audited_sql :abs_srcdir '/sql/include/audited.sql'
\i :audited_sql
CREATE SCHEMA pm;
CREATE TABLE pm.items (pm_tenant int NOT NULL, id int PRIMARY KEY, note text);
CREATE INDEX ON pm.items (pm_tenant);
INSERT INTO pm.items VALUES (1301, 1, 'a1'), (1301, 2, 'a2'), (1302, 3, 'b1');

CREATE ROLE pm_none;
CREATE ROLE pm_view;            -- backup.view on 1301
CREATE ROLE pm_create;          -- backup.create on 1301
CREATE ROLE pm_download;        -- backup.download on 1301
CREATE ROLE pm_restore;         -- backup.restore on 1301
CREATE ROLE pm_three_all;       -- view, create and download on every tenant: not restore
CREATE ROLE pm_group;           -- all four on 1301, held through membership
CREATE ROLE pm_member IN ROLE pm_group;
GRANT USAGE ON SCHEMA pm TO PUBLIC;
-- Table rights for everyone: only the backup permissions tell the roles apart.
GRANT SELECT, INSERT, DELETE ON pm.items TO PUBLIC;

SELECT tenant_backup.backup_grant('pm_view', 'backup.view', '1301');
SELECT tenant_backup.backup_grant('pm_create', 'backup.create', '1301');
SELECT tenant_backup.backup_grant('pm_download', 'backup.download', '1301');
SELECT tenant_backup.backup_grant('pm_restore', 'backup.restore', ' 1301'); -- the tenant as backups record it
SELECT tenant_backup.backup_grant('pm_three_all', p) FROM unnest(ARRAY['backup.view', 'backup.create', 'backup.download']) p;
SELECT tenant_backup.backup_grant('pm_group', p, '1301')
FROM unnest(ARRAY['backup.view', 'backup.create', 'backup.download', 'backup.restore']) p;
SELECT tenant_backup.backup_grant('pm_view', 'backup.view', '1301'); -- twice is harmless
SELECT role, permission, tenant FROM tenant_backup.backup_grants() WHERE role::text LIKE 'pm\_%';
-- Bad grants.
SELECT tenant_backup.backup_grant('pm_view', 'backup.everything');
SELECT tenant_backup.backup_grant(NULL, 'backup.view');
SELECT tenant_backup.backup_grant('no_such_role', 'backup.view');
SELECT tenant_backup.backup_grant('pm_view', 'backup.view', repeat('x', 2000));
SELECT tenant_backup.backup_revoke('pm_view', 'backup.restore', '1301');

-- What the calls work on: a backup and a download of each tenant, and a backup per role and
-- tenant for backup_delete to delete.
CREATE TABLE pm.fixture AS
    SELECT t AS tenant, tenant_backup.backup_create(t::text) AS backup, NULL::text AS doc
    FROM unnest(ARRAY[1301, 1302]) t;
UPDATE pm.fixture SET doc = (SELECT string_agg(line || E'\n', '') FROM tenant_backup.backup_download(backup) line);
CREATE TABLE pm.disposable AS
    SELECT r AS role, t AS tenant, tenant_backup.backup_create(t::text) AS backup
    FROM unnest(ARRAY['pm_none', 'pm_view', 'pm_create', 'pm_download', 'pm_restore', 'pm_three_all',
                      'pm_member']) r, unnest(ARRAY[1301, 1302]) t;
GRANT SELECT ON pm.fixture, pm.disposable TO PUBLIC;

CREATE TABLE pm.calls (n int, action text, sql text);
INSERT INTO pm.calls VALUES
    (1, 'create', $$SELECT tenant_backup.backup_create('%s')$$),
    (2, 'list',     $$SELECT 1/count(*) FROM tenant_backup.backup_list('%s')$$),
    (3, 'verify',   $$SELECT tenant_backup.backup_verify((SELECT backup FROM pm.fixture WHERE tenant = %s))$$),
    (4, 'download', $$SELECT count(*) FROM tenant_backup.backup_download((SELECT backup FROM pm.fixture WHERE tenant = %s))$$),
    (5, 'export_csv', $$SELECT count(*) FROM tenant_backup.backup_export_csv((SELECT backup FROM pm.fixture WHERE tenant = %s), 'pm.items')$$),
    (6, 'tenant_export', $$SELECT count(*) FROM tenant_backup.tenant_export_csv('%s', 'pm.items')$$),
    (7, 'restore',  $$SELECT tenant_backup.backup_restore((SELECT backup FROM pm.fixture WHERE tenant = %s))$$),
    (8, 'import',   $$SELECT tenant_backup.backup_import((SELECT doc FROM pm.fixture WHERE tenant = %s))$$),
    (9, 'delete',   $$SELECT tenant_backup.backup_delete((SELECT backup FROM pm.disposable WHERE tenant = %s AND role = current_user))$$);

CREATE TABLE pm.matrix (role text, n int, action text, tenant int, result text);
SELECT max(id) AS audit_before FROM tenant_backup.backup_audit \gset
DO $$
DECLARE
    r text;
    c record;
    t int;
    res text;
BEGIN
    FOREACH r IN ARRAY ARRAY['pm_none', 'pm_view', 'pm_create', 'pm_download', 'pm_restore', 'pm_three_all', 'pm_member'] LOOP
        FOR c IN SELECT * FROM pm.calls ORDER BY n LOOP
            FOREACH t IN ARRAY ARRAY[1301, 1302] LOOP
                BEGIN
                    EXECUTE format('SET LOCAL ROLE %I', r);
                    EXECUTE format(c.sql, t);
                    res := 'Y';
                EXCEPTION
                    WHEN insufficient_privilege THEN res := '-';
                    WHEN division_by_zero THEN res := '-'; -- backup_list saw no backup of the tenant
                    WHEN others THEN res := 'error: ' || SQLERRM;
                END;
                RESET ROLE;
                INSERT INTO pm.matrix VALUES (r, c.n, c.action, t, res);
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;
-- Y: allowed, -: denied. Columns: each function on tenant 1301 | on tenant 1302.
SELECT role,
       string_agg(CASE WHEN tenant = 1301 THEN result END, ' ' ORDER BY n) AS "1301: cr li ve dl cs ex re im de",
       string_agg(CASE WHEN tenant = 1302 THEN result END, ' ' ORDER BY n) AS "1302: cr li ve dl cs ex re im de"
FROM pm.matrix GROUP BY role ORDER BY min(ctid);
SELECT role, action, tenant, result FROM pm.matrix WHERE result LIKE 'error%';

SELECT pg_temp.audited(format($$SELECT count(*) = 8 FROM tenant_backup.backup_audit WHERE id > %s AND current_user_name = 'pm_member' AND outcome = 'denied'$$, :audit_before));
-- Every call left one audit row: its action, tenant, backup, the role, and the outcome. The
-- denied ones were written although their subtransaction was rolled back.
SELECT m.role, count(*) AS calls,
       count(a.id) FILTER (WHERE a.outcome = 'ok') AS audited_ok,
       count(a.id) FILTER (WHERE a.outcome = 'denied') AS audited_denied,
       count(*) FILTER (WHERE m.result = 'Y' AND m.action <> 'list') AS allowed,
       count(*) FILTER (WHERE m.result = '-' AND m.action <> 'list') AS denied
FROM pm.matrix m
LEFT JOIN tenant_backup.backup_audit a
       ON a.id > :audit_before AND a.current_user_name = m.role AND a.action = m.action
      AND a.tenant = m.tenant::text AND m.action <> 'list'
GROUP BY m.role ORDER BY min(m.ctid);
SELECT action, outcome, tenant, backup_id IS NOT NULL AS has_backup, session_user_name = current_user AS session_user_ok,
       error
FROM tenant_backup.backup_audit
WHERE id > :audit_before AND current_user_name = 'pm_restore' ORDER BY id;

-- Row-level security on the catalog: a role sees the backups of the tenants it may view.
SET ROLE pm_view;
SELECT DISTINCT tenant FROM tenant_backup.backups WHERE tenant IN ('1301', '1302');
SET ROLE pm_create;
SELECT count(*) AS sees_without_view FROM tenant_backup.backups;
-- The catalog is written only through our functions.
INSERT INTO tenant_backup.backups (tenant, status) VALUES ('1301', 'failed');
UPDATE tenant_backup.backups SET label = 'x';
DELETE FROM tenant_backup.backups;
SELECT count(*) FROM tenant_backup.permissions;
SELECT count(*) FROM tenant_backup.backup_audit;
SELECT count(*) FROM tenant_backup.tenant_keys;
-- Admin functions: refused, and the refusal is audited.
SELECT tenant_backup.backup_grant('pm_create', 'backup.restore', '1301');
SELECT tenant_backup.backup_forget_tenant('1301');
SELECT tenant_backup.backup_rotate_master_key();
SELECT * FROM tenant_backup.backup_grants();
-- Superuser-only settings.
SET tenant_backup.tenant_column = 'id';
SET tenant_backup.repository = '/tmp';
RESET ROLE;
SELECT pg_temp.audited($$SELECT EXISTS (SELECT FROM tenant_backup.backup_audit WHERE current_user_name = 'pm_create' AND action = 'rotate_master_key')$$);
SELECT action, outcome, error FROM tenant_backup.backup_audit
WHERE current_user_name = 'pm_create' AND action IN ('grant', 'forget_tenant', 'rotate_master_key') ORDER BY id;

-- A role allowed to back up a tenant cannot read through a backup what its table rights hide.
CREATE ROLE pm_no_table;
SELECT tenant_backup.backup_grant('pm_no_table', 'backup.create', '1301');
REVOKE SELECT ON pm.items FROM PUBLIC;
SET ROLE pm_no_table;
SELECT tenant_backup.backup_create('1301');
RESET ROLE;
-- Nor can row-level security that hides rows from it produce a partial backup.
GRANT SELECT ON pm.items TO pm_no_table;
ALTER TABLE pm.items ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_a1 ON pm.items USING (note = 'a1');
SET ROLE pm_no_table;
SELECT tenant_backup.backup_create('1301');
RESET ROLE;
SELECT pg_temp.audited($$SELECT count(*) = 2 FROM tenant_backup.backup_audit WHERE current_user_name = 'pm_no_table'$$);
SELECT action, outcome, error FROM tenant_backup.backup_audit WHERE current_user_name = 'pm_no_table' ORDER BY id;

-- A failed action is audited too, in a transaction of its own.
BEGIN;
SELECT tenant_backup.backup_restore(999999);
ROLLBACK;
SELECT pg_temp.audited($$SELECT EXISTS (SELECT FROM tenant_backup.backup_audit WHERE action = 'restore' AND backup_id = 999999)$$);
SELECT action, outcome, backup_id, error FROM tenant_backup.backup_audit ORDER BY id DESC LIMIT 1;

-- The audit trail is append-only, except for superusers.
GRANT UPDATE, DELETE, TRUNCATE ON tenant_backup.backup_audit TO pm_view;
SET ROLE pm_view;
UPDATE tenant_backup.backup_audit SET outcome = 'ok';
DELETE FROM tenant_backup.backup_audit;
TRUNCATE tenant_backup.backup_audit;
RESET ROLE;
REVOKE UPDATE, DELETE, TRUNCATE ON tenant_backup.backup_audit FROM pm_view;

-- Hostile tenant values and labels are data: never SQL, never a path.
ALTER TABLE pm.items DISABLE ROW LEVEL SECURITY;
CREATE TABLE pm.texts (pm_tenant text NOT NULL, id int, note text);
CREATE INDEX ON pm.texts (pm_tenant);
INSERT INTO pm.texts VALUES ($$'); DROP TABLE pm.items; --$$, 1, 'q'), ('../../../../etc/passwd', 2, 'p'), ('ünï/cødé', 3, 'u');
SELECT tenant_backup.backup_exclude_table('pm.items');
SELECT t, tenant_backup.backup_create(t, '../' || t) IS NOT NULL AS created
FROM unnest(ARRAY[$$'); DROP TABLE pm.items; --$$, '../../../../etc/passwd', 'ünï/cødé']) t;
SELECT tenant, label, object_name ~ '^[0-9]+/[0-9]+/[0-9]+-[0-9a-f]+\.tbk$' AS object_name_from_ids, location LIKE '%/pg_tenant_backup/%' AS in_repository
FROM tenant_backup.backups WHERE tenant IN ($$'); DROP TABLE pm.items; --$$, '../../../../etc/passwd', 'ünï/cødé') ORDER BY id;
SELECT to_regclass('pm.items') IS NOT NULL AS items_still_there;
SELECT tenant_backup.backup_grant('pm_view', 'backup.view', $$x'); DELETE FROM tenant_backup.permissions; --$$);
SELECT count(*) > 0 AS grants_intact FROM tenant_backup.permissions;

RESET client_min_messages;
SET client_min_messages = error;
SELECT count(*) > 0 AS deleted FROM (SELECT tenant_backup.backup_delete(id) FROM tenant_backup.backups WHERE id > 13000) d;
DROP SCHEMA pm CASCADE;
DELETE FROM tenant_backup.permissions;
DROP ROLE pm_none, pm_view, pm_create, pm_download, pm_restore, pm_three_all, pm_member, pm_group, pm_no_table;
RESET tenant_backup.tenant_column;
RESET client_min_messages;
RESET log_min_error_statement;
