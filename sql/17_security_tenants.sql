-- tenant_backup regression tests, part 17: tenant values and hostile types (issue 14).
-- Finding 9: a domain's CHECK function, code of the role owning the domain, never runs with a
-- superuser's privileges when a superuser grants, revokes, forgets, verifies or downloads.
-- Finding 12: with integer and text tenant columns side by side, one tenant has exactly one
-- spelling ('01707' is refused, not a second name of tenant 1707), and forgetting a tenant
-- catches every spelling the catalog recorded it under.
-- Everything lives in schema sec_tenants with tenant columns of its own (st_tenant, st_mixed,
-- st_org), so no other file's backups see these tables.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 17000) AS id_base \gset
CREATE SCHEMA sec_tenants;
CREATE ROLE st_owner;   -- owns tables, a domain and the domain's CHECK function: the attacker
CREATE ROLE st_reader;  -- a tenant's admin, holding grants on one tenant
GRANT USAGE, CREATE ON SCHEMA sec_tenants TO st_owner;
GRANT USAGE ON SCHEMA sec_tenants TO st_reader;

------------------------------------------------------------------------------------------------
-- Finding 9: domain CHECK functions.
------------------------------------------------------------------------------------------------
SET ROLE st_owner;
-- What the trap saw each time it ran.
CREATE TABLE sec_tenants.spy (as_owner boolean, as_superuser boolean, escalated boolean);
GRANT INSERT ON sec_tenants.spy TO PUBLIC;
CREATE FUNCTION sec_tenants.st_trap(v integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    escalated boolean := false;
BEGIN
    BEGIN
        ALTER ROLE st_owner SUPERUSER;
        escalated := true;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    INSERT INTO sec_tenants.spy
    VALUES (current_user = 'st_owner', (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), escalated);
    RETURN v IS NOT NULL;
END
$$;
CREATE DOMAIN sec_tenants.st_id AS integer CHECK (sec_tenants.st_trap(VALUE));
-- A tenant table whose tenant column is the domain: the only st_tenant table for now.
CREATE TABLE sec_tenants.dom_tenants (st_tenant sec_tenants.st_id NOT NULL, v text);
RESET ROLE;
SET tenant_backup.tenant_column = 'st_tenant';
-- st_owner's tables may be tenant tables (a superuser says so: 18_security_tables); a domain
-- tenant column is not a supported type, so the table is a gap, never a tenant table.
SET tenant_backup.table_owners = 'st_owner';
SELECT table_name, tenant_type FROM tenant_backup.backup_tables();
SELECT table_name, reason FROM tenant_backup.backup_table_gaps();

-- A superuser's grant, revoke, forget, list and schedule calls convert '1705' for the tenant
-- columns: never with the domain's input function (0.1.0 ran the trap as superuser here).
SELECT tenant_backup.backup_grant('st_reader', 'backup.view', '1705');
SELECT tenant_backup.backup_revoke('st_reader', 'backup.view', '1705');
SELECT tenant_backup.backup_forget_tenant('1705');
SELECT count(*) AS listed FROM tenant_backup.backup_list('1705');
SELECT tenant_backup.backup_schedule_set(tenant => '1705', enabled => false);
SELECT tenant_backup.backup_schedule_remove('1705');
-- A backup leaves the domain-keyed table out with a WARNING naming it, an export of it is refused,
-- and the trap never runs.
SELECT tenant_backup.backup_create('1705');
SELECT count(*) FROM tenant_backup.tenant_export_csv('1705', 'sec_tenants.dom_tenants');
SELECT count(*) AS trap_runs FROM sec_tenants.spy;
SELECT tenant_backup.backup_exclude_table('sec_tenants.dom_tenants');

-- Domains in other columns: archived by their send function (no check), decoded by verify,
-- download and export as their base type.
SET ROLE st_owner;
CREATE TABLE sec_tenants.ledger (st_tenant integer NOT NULL, amount sec_tenants.st_id, note text);
CREATE INDEX ON sec_tenants.ledger (st_tenant);
INSERT INTO sec_tenants.ledger VALUES (1705, 10, 'five'), (1705, 11, 'five again'), (1706, 20, 'six');
DELETE FROM sec_tenants.spy; -- the owner's own inserts ran its check, as the owner
RESET ROLE;
SELECT tenant_backup.backup_create('1705') AS dom_bid \gset
SELECT ok, tables, rows, error FROM tenant_backup.backup_verify(:dom_bid);
SELECT line FROM tenant_backup.backup_download(:dom_bid) AS line WHERE line LIKE '%five%';
SELECT line FROM tenant_backup.backup_export_csv(:dom_bid, 'sec_tenants.ledger') AS line;
SELECT count(*) AS trap_runs FROM sec_tenants.spy;

-- An array of the domain still decodes element by element through the domain: as the type's
-- owner, in a security-restricted operation, never as the superuser calling.
SET ROLE st_owner;
ALTER TABLE sec_tenants.ledger ADD COLUMN amounts sec_tenants.st_id[];
UPDATE sec_tenants.ledger SET amounts = ARRAY[amount, amount + 1];
DELETE FROM sec_tenants.spy;
RESET ROLE;
SELECT tenant_backup.backup_create('1705') AS arr_bid \gset
SELECT ok, tables, rows, error FROM tenant_backup.backup_verify(:arr_bid);
SELECT line FROM tenant_backup.backup_export_csv(:arr_bid, 'sec_tenants.ledger') AS line;
SELECT as_owner, as_superuser, escalated, count(*) > 0 AS ran FROM sec_tenants.spy GROUP BY 1, 2, 3;
SELECT rolsuper AS st_owner_is_superuser FROM pg_roles WHERE rolname = 'st_owner';
SELECT tenant_backup.backup_exclude_table('sec_tenants.ledger');

------------------------------------------------------------------------------------------------
-- Finding 12: integer and text tenant columns side by side.
------------------------------------------------------------------------------------------------
SET tenant_backup.tenant_column = 'st_mixed';
CREATE TABLE sec_tenants.m_numbers (st_mixed integer NOT NULL, v text);
CREATE TABLE sec_tenants.m_names (st_mixed text NOT NULL, v text);
CREATE INDEX ON sec_tenants.m_numbers (st_mixed);
CREATE INDEX ON sec_tenants.m_names (st_mixed);
INSERT INTO sec_tenants.m_numbers VALUES (1707, 'number seven'), (1708, 'number eight');
INSERT INTO sec_tenants.m_names VALUES ('1707', 'name seven'), ('01707', 'name zero seven'), ('1708', 'name eight');
GRANT SELECT ON sec_tenants.m_numbers, sec_tenants.m_names TO st_reader;
SELECT table_name, tenant_type FROM tenant_backup.backup_tables();

-- '01707', ' 1707' and '+1707' are 1707 for the integer column but other values for the text
-- one: refused wherever a tenant is named, with the canonical spelling in the hint.
SELECT tenant_backup.backup_create('01707');
SELECT tenant_backup.backup_create(' 1707');
SELECT tenant_backup.backup_create('+1707');
SELECT tenant_backup.backup_grant('st_reader', 'backup.download', '01707');
SELECT tenant_backup.backup_schedule_set(tenant => '01707', enabled => false);
SELECT tenant_backup.backup_forget_tenant('01707');
SELECT count(*) FROM tenant_backup.tenant_export_csv('01707', 'sec_tenants.m_numbers');

-- The canonical spelling works: tenant '1707' is 1707 in m_numbers and '1707' in m_names.
SELECT tenant_backup.backup_grant('st_reader', 'backup.view', '1707');
SELECT tenant_backup.backup_grant('st_reader', 'backup.download', '1707');
SELECT tenant_backup.backup_create('1707') AS b7 \gset
SELECT tenant, row_count FROM tenant_backup.backups WHERE id = :b7;
SELECT tenant_backup.backup_schedule_set(tenant => '1707', enabled => false);
-- Discovery lists the text column's '01707' as it is: its scheduled backups fail with the error
-- above (a reported gap) instead of backing up tenant 1707's integer rows under a second name.
SELECT tenant FROM tenant_backup.backup_schedules() WHERE tenant IN ('1707', '01707', '1708') ORDER BY tenant;
SELECT tenant_backup.backup_schedule_remove('1707');

-- The attack: st_reader holds grants on '01707' recorded before 0.2.0 (written into the catalog
-- directly here), and asks for tenant 1707's integer rows through that spelling.
INSERT INTO tenant_backup.permissions (role_id, permission, tenant)
VALUES ('st_reader'::regrole, 'backup.download', '01707'), ('st_reader'::regrole, 'backup.create', '01707');
SET ROLE st_reader;
SELECT count(*) FROM tenant_backup.tenant_export_csv('01707', 'sec_tenants.m_numbers');
SELECT tenant_backup.backup_create('01707');
-- Its own tenant, by its one spelling, works; another tenant is denied.
SELECT line FROM tenant_backup.tenant_export_csv('1707', 'sec_tenants.m_numbers') AS line;
SELECT count(*) FROM tenant_backup.tenant_export_csv('1708', 'sec_tenants.m_numbers');
SELECT tenant, row_count FROM tenant_backup.backup_list('1707');
RESET ROLE;
-- A legacy grant can still be revoked by the spelling it was recorded under.
SELECT tenant_backup.backup_revoke('st_reader', 'backup.create', '01707');
SELECT tenant_backup.backup_revoke('st_reader', 'backup.download', '01707');
SELECT permission, tenant FROM tenant_backup.backup_grants() WHERE role = 'st_reader'::regrole ORDER BY 1, 2;

-- Forgetting tenant 1707 catches every spelling recorded for it before 0.2.0 (simulated by
-- renaming backups and adding keys), and nothing else: not '-1707', '17070', '11707' or 1708.
SELECT tenant_backup.backup_create('1707') AS b7_space \gset
SELECT tenant_backup.backup_create('1707') AS b7_zero \gset
SELECT tenant_backup.backup_create('1707') AS b7_plus \gset
SELECT tenant_backup.backup_create('1708') AS b8 \gset
UPDATE tenant_backup.backups SET tenant = ' 1707' WHERE id = :b7_space;
UPDATE tenant_backup.backups SET tenant = '01707' WHERE id = :b7_zero;
UPDATE tenant_backup.backups SET tenant = '+1707' WHERE id = :b7_plus;
INSERT INTO tenant_backup.tenant_keys (generation, tenant, wrapped_key, master_key_id)
SELECT nextval('tenant_backup.tenant_keys_generation_seq'), t, '\x00', 'legacy'
FROM unnest(ARRAY[' 1707', '01707', '+1707', '001707 ', '-1707', '17070', '11707']) t;
-- Legacy rows are still listed by the spelling they were recorded under.
SELECT count(*) AS listed_07 FROM tenant_backup.backup_list('01707');
SELECT tenant_backup.backup_forget_tenant('1707');
SELECT tenant, count(*) FROM tenant_backup.backups WHERE id > :id_base AND tenant <> '1705' GROUP BY tenant ORDER BY tenant;
SELECT tenant FROM tenant_backup.tenant_keys
WHERE tenant IN ('1707', ' 1707', '01707', '+1707', '001707 ', '-1707', '17070', '11707', '1708') ORDER BY tenant;
DELETE FROM tenant_backup.tenant_keys WHERE master_key_id = 'legacy';

------------------------------------------------------------------------------------------------
-- The same with uuid and text: a uuid's one spelling is lower case.
------------------------------------------------------------------------------------------------
SET tenant_backup.tenant_column = 'st_org';
CREATE TABLE sec_tenants.o_ids (st_org uuid NOT NULL, v text);
CREATE TABLE sec_tenants.o_names (st_org text NOT NULL, v text);
INSERT INTO sec_tenants.o_ids VALUES ('17171717-aaaa-4bbb-8ccc-dddddddddddd', 'by id');
INSERT INTO sec_tenants.o_names VALUES ('17171717-aaaa-4bbb-8ccc-dddddddddddd', 'by name');
SELECT tenant_backup.backup_create('17171717-AAAA-4BBB-8CCC-DDDDDDDDDDDD');
SELECT tenant_backup.backup_create('17171717-aaaa-4bbb-8ccc-dddddddddddd') AS org_bid \gset
SELECT tenant, row_count FROM tenant_backup.backups WHERE id = :org_bid;
INSERT INTO tenant_backup.tenant_keys (generation, tenant, wrapped_key, master_key_id)
VALUES (nextval('tenant_backup.tenant_keys_generation_seq'), '{17171717-AAAA-4BBB-8CCC-DDDDDDDDDDDD}', '\x00', 'legacy');
SELECT tenant_backup.backup_forget_tenant('17171717-aaaa-4bbb-8ccc-dddddddddddd');
SELECT count(*) AS keys_left FROM tenant_backup.tenant_keys WHERE master_key_id = 'legacy';

-- Clean up: nothing of this file stays behind for later files.
RESET tenant_backup.tenant_column;
SELECT count(tenant_backup.backup_delete(id)) AS deleted FROM tenant_backup.backups WHERE id > :id_base;
DELETE FROM tenant_backup.registered_tables WHERE tbl::text LIKE 'sec_tenants.%';
DROP SCHEMA sec_tenants CASCADE;
DELETE FROM tenant_backup.permissions WHERE role_id IN ('st_reader'::regrole, 'st_owner'::regrole);
DROP ROLE st_owner, st_reader;
