-- Issue 21: a restore aimed at rows (rows => '{"schema.table": [{key}]}'): the rows named by their
-- primary key and, through the foreign keys, the rows that reference them. Tenant column "acct29r"
-- (this file's own tables only).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.encryption_key_command = 'echo 5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';
SET tenant_backup.tenant_column = 'acct29r';
SET tenant_backup.pre_restore_backup = off;
CREATE SCHEMA r29;
CREATE TABLE r29.accounts (acct29r integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE r29.customers (id integer PRIMARY KEY, acct29r integer NOT NULL REFERENCES r29.accounts, name text NOT NULL);
CREATE TABLE r29.invoices (id integer PRIMARY KEY, acct29r integer NOT NULL, customer_id integer NOT NULL
                           REFERENCES r29.customers, total numeric NOT NULL);
CREATE TABLE r29.invoice_lines (id integer PRIMARY KEY, acct29r integer NOT NULL, invoice_id integer NOT NULL
                                REFERENCES r29.invoices, item text NOT NULL);
-- Found through its foreign key (no tenant column), and without a key of its own.
CREATE TABLE r29.line_notes (line_id integer NOT NULL REFERENCES r29.invoice_lines, note text);
-- A thread of comments: a reply references the comment it answers (a self-reference).
CREATE TABLE r29.comments (id integer PRIMARY KEY, acct29r integer NOT NULL, invoice_id integer REFERENCES r29.invoices,
                           reply_to integer REFERENCES r29.comments, body text);
CREATE INDEX ON r29.customers (acct29r);
CREATE INDEX ON r29.invoices (acct29r);
CREATE INDEX ON r29.invoice_lines (acct29r);
CREATE INDEX ON r29.invoice_lines (invoice_id);
CREATE INDEX ON r29.line_notes (line_id);
CREATE INDEX ON r29.comments (acct29r);
INSERT INTO r29.accounts VALUES (2901, 'acme'), (2902, 'globex');
INSERT INTO r29.customers VALUES (1, 2901, 'Initech'), (2, 2901, 'Hooli'), (9, 2902, 'theirs');
INSERT INTO r29.invoices VALUES (17, 2901, 2, 170.00), (18, 2901, 1, 180.00), (99, 2902, 9, 990.00);
INSERT INTO r29.invoice_lines VALUES (171, 2901, 17, 'design'), (172, 2901, 17, 'hosting'), (181, 2901, 18, 'audit'),
                                     (991, 2902, 99, 'theirs');
INSERT INTO r29.line_notes VALUES (171, 'agreed by phone'), (181, 'yearly'), (991, 'theirs');
INSERT INTO r29.comments VALUES (1, 2901, 17, NULL, 'is this paid?'), (2, 2901, NULL, 1, 'yes'), (3, 2901, 18, NULL, 'ok'),
                                (4, 2901, NULL, 2, 'thanks');
RESET client_min_messages;
SELECT tenant_backup.backup_create('2901', 'an hour ago') AS b1 \gset
SELECT set_config('r29.b1', :'b1', false) IS NOT NULL AS set;
CREATE VIEW r29.everything AS
    SELECT 'invoices' AS t, id::text AS id, to_jsonb(x) - 'acct29r' AS row FROM r29.invoices x WHERE acct29r = 2901
    UNION ALL SELECT 'lines', id::text, to_jsonb(x) - 'acct29r' FROM r29.invoice_lines x WHERE acct29r = 2901
    UNION ALL SELECT 'notes', line_id::text, to_jsonb(x) FROM r29.line_notes x WHERE line_id IN (171, 172, 173, 181, 182)
    UNION ALL SELECT 'comments', id::text, to_jsonb(x) - 'acct29r' FROM r29.comments x WHERE acct29r = 2901;

-- The customer deleted invoice 17 an hour ago, with its lines, their notes and its comments;
-- since then invoice 18 was edited and got a line.
DELETE FROM r29.line_notes WHERE line_id IN (171, 172);
DELETE FROM r29.invoice_lines WHERE invoice_id = 17;
DELETE FROM r29.comments WHERE id IN (4, 2, 1);
DELETE FROM r29.invoices WHERE id = 17;
UPDATE r29.invoices SET total = 185.00 WHERE id = 18;
INSERT INTO r29.invoice_lines VALUES (182, 2901, 18, 'support');

-- The preview: invoice 17 and, through the foreign keys, its lines, their note and the comment
-- thread (the replies reference the comment, not the invoice). Nothing changes.
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged
FROM tenant_backup.backup_restore(:b1, dry_run => true, rows => '{"r29.invoices": [{"id": 17}]}') ORDER BY 1;
SELECT count(*) AS invoice_17_still_gone FROM r29.invoices WHERE id = 17;
-- The restore brings back exactly that; invoice 18's edit and new line stay.
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, rows => '{"r29.invoices": [{"id": 17}]}') ORDER BY 1;
SELECT t, id, row FROM r29.everything ORDER BY t, id;

-- Mode 'exact' (the default) makes the selection exactly as in the backup: an edited line is put
-- back, a line added to invoice 17 since is removed, a line moved to invoice 17 goes back to
-- invoice 18. Mode 'missing' only brings back what is missing.
UPDATE r29.invoice_lines SET item = 'design v2' WHERE id = 171;
DELETE FROM r29.invoice_lines WHERE id = 172;
INSERT INTO r29.invoice_lines VALUES (173, 2901, 17, 'extra');
SELECT table_name, rows_removed, rows_restored, only_in_backup, only_live, changed
FROM tenant_backup.backup_restore(:b1, dry_run => true, mode => 'missing', rows => '{"r29.invoices": [{"id": 17}]}')
ORDER BY 1;
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, mode => 'missing', rows => '{"r29.invoices": [{"id": 17}]}')
ORDER BY 1;
SELECT id, invoice_id, item FROM r29.invoice_lines WHERE acct29r = 2901 ORDER BY id;
UPDATE r29.invoice_lines SET invoice_id = 17 WHERE id = 181;
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, rows => '{"r29.invoices": [{"id": 17}]}') ORDER BY 1;
SELECT id, invoice_id, item FROM r29.invoice_lines WHERE acct29r = 2901 ORDER BY id;
SELECT line_id, note FROM r29.line_notes WHERE line_id IN (171, 172, 173, 181, 182) ORDER BY 1;

-- Another tenant's invoice: the backup holds only its tenant's rows and the restore touches only
-- them, so the key selects nothing (said so without telling whether it exists elsewhere).
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, rows => '{"r29.invoices": [{"id": 99}]}') ORDER BY 1;
SELECT id, acct29r, total FROM r29.invoices WHERE id = 99;
SELECT count(*) AS their_lines FROM r29.invoice_lines WHERE acct29r = 2902;

-- Nothing of rows => becomes SQL: a value, a table name and a column name that try.
CREATE FUNCTION r29.refused(rows jsonb, mode text DEFAULT 'exact') RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tenant_backup.backup_restore(current_setting('r29.b1')::bigint, dry_run => false, mode => mode, rows => rows);
    RETURN 'restored';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'backup [0-9]+', 'backup N');
END
$$;
SELECT r29.refused('{"r29.invoices": [{"id": "17); DROP TABLE r29.accounts; --"}]}');
SELECT r29.refused('{"r29.invoices; DROP TABLE r29.accounts": [{"id": 17}]}');
SELECT r29.refused('{"r29.invoices": [{"id = 17 OR true --": 17}]}');
SELECT r29.refused('{"r29.invoices": [{"id": {"sub": "select"}}]}');
SELECT r29.refused('{"r29.invoices": [{"id": null}]}');
SELECT r29.refused('{"r29.invoices": [{"id": 17, "total": 1}]}');
SELECT r29.refused('{"r29.invoices": [{}]}');
SELECT r29.refused('{"r29.invoices": []}');
SELECT r29.refused('{"r29.invoices": {"id": 17}}');
SELECT r29.refused('[{"id": 17}]');
SELECT r29.refused('{}');
SELECT r29.refused('{"pg_catalog.pg_authid": [{"oid": 10}]}');
-- A table without a primary key cannot be named (its rows come with the rows they reference).
SELECT r29.refused('{"r29.line_notes": [{"line_id": 171}]}');
SELECT count(*) AS accounts_still_there FROM r29.accounts;
-- rows => and tables => do not combine.
DO $$
BEGIN
    PERFORM tenant_backup.backup_restore(current_setting('r29.b1')::bigint, dry_run => false, tables => '{r29.invoices}',
                                         rows => '{"r29.invoices": [{"id": 17}]}');
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'refused: %', SQLERRM;
END
$$;

-- Refused, naming the table, when the selection would break a foreign key: invoice 17's customer
-- was deleted since, so invoice 17 alone would reference nothing. Naming the customer brings back
-- the customer, its invoice 17 and everything that references that.
DELETE FROM r29.line_notes WHERE line_id IN (SELECT id FROM r29.invoice_lines WHERE invoice_id = 17);
DELETE FROM r29.invoice_lines WHERE invoice_id = 17;
DELETE FROM r29.comments WHERE acct29r = 2901 AND id <> 3;
DELETE FROM r29.invoices WHERE id = 17;
DELETE FROM r29.customers WHERE id = 2;
DO $$
DECLARE m text; d text; h text;
BEGIN
    PERFORM tenant_backup.backup_restore(current_setting('r29.b1')::bigint, dry_run => false,
                                         rows => '{"r29.invoices": [{"id": 17}]}');
EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RAISE NOTICE 'refused: %', regexp_replace(m, 'backup [0-9]+', 'backup N');
    RAISE NOTICE 'detail: %', d;
    RAISE NOTICE 'hint: %', h;
END
$$;
SELECT count(*) AS nothing_restored FROM r29.invoices WHERE id = 17;
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, rows => '{"r29.customers": [{"id": 2}]}') ORDER BY 1;
SELECT t, id, row FROM r29.everything ORDER BY t, id;

-- Rows of a table the backup does not hold (created since) that reference the selection: a
-- reminder of invoice 17 still finds it after the restore deleted and re-inserted it. A row of the
-- selection that the backup lacks (invoice 20, created since) is removed by mode 'exact', which a
-- reminder of it refuses, naming the table.
SET client_min_messages = warning;
CREATE TABLE r29.reminders (invoice_id integer NOT NULL REFERENCES r29.invoices, due date);
CREATE INDEX ON r29.reminders (invoice_id);
RESET client_min_messages;
INSERT INTO r29.invoices VALUES (20, 2901, 1, 200.00);
INSERT INTO r29.reminders VALUES (17, '2026-12-24'), (20, '2026-12-31');
UPDATE r29.invoices SET total = 0 WHERE id = 17;
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, rows => '{"r29.invoices": [{"id": 17}]}')
WHERE table_name = 'r29.invoices';
SELECT total FROM r29.invoices WHERE id = 17;
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => true, rows => '{"r29.invoices": [{"id": 20}]}') ORDER BY 1;
DO $$
DECLARE m text; h text;
BEGIN
    PERFORM tenant_backup.backup_restore(current_setting('r29.b1')::bigint, dry_run => false,
                                         rows => '{"r29.invoices": [{"id": 20}]}');
EXCEPTION WHEN foreign_key_violation THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
    RAISE NOTICE 'refused: %', regexp_replace(m, 'backup [0-9]+', 'backup N');
    RAISE NOTICE 'hint: %', h;
END
$$;
SELECT count(*) AS invoice_20_kept FROM r29.invoices WHERE id = 20;

-- Schema drift: a column added since takes its default; the restore's column rules hold.
ALTER TABLE r29.invoice_lines ADD COLUMN qty integer NOT NULL DEFAULT 1;
DELETE FROM r29.line_notes WHERE line_id = 172;
DELETE FROM r29.invoice_lines WHERE id = 172;
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b1, dry_run => false, mode => 'missing', rows => '{"r29.invoice_lines": [{"id": 172}]}')
ORDER BY 1;
SELECT id, item, qty FROM r29.invoice_lines WHERE id = 172;

-- Permissions: a preview needs backup.view, the restore backup.restore (and the tables'
-- privileges, as any restore); both are audited.
CREATE ROLE r29_viewer;
GRANT USAGE ON SCHEMA r29 TO r29_viewer;
GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA r29 TO r29_viewer;
SELECT tenant_backup.backup_grant('r29_viewer', 'backup.view', '2901');
SET ROLE r29_viewer;
SELECT table_name, rows_restored FROM tenant_backup.backup_restore(:b1, dry_run => true,
    rows => '{"r29.invoice_lines": [{"id": 171}]}') ORDER BY 1;
DO $$
BEGIN
    PERFORM tenant_backup.backup_restore(current_setting('r29.b1')::bigint, dry_run => false,
                                         rows => '{"r29.invoice_lines": [{"id": 171}]}');
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, 'backup [0-9]+', 'backup N');
END
$$;
RESET ROLE;
SELECT action, outcome, count(*) FROM tenant_backup.backup_audit
WHERE backup_id = :b1 AND action IN ('restore', 'restore_preview') AND outcome = 'ok' GROUP BY 1, 2 ORDER BY 1, 2;

-- Undo: a row-aimed restore takes its pre_restore backup too, and restoring that undoes it.
UPDATE r29.invoice_lines SET item = 'changed again' WHERE id = 171;
SELECT pre_restore_backup_id AS undo FROM tenant_backup.backup_restore(:b1, dry_run => false, pre_restore_backup => true,
    rows => '{"r29.invoice_lines": [{"id": 171}]}') LIMIT 1 \gset
SELECT item FROM r29.invoice_lines WHERE id = 171;
SELECT kind FROM tenant_backup.backups WHERE id = :undo;
SELECT count(*) > 0 AS undone FROM tenant_backup.backup_restore(:undo, dry_run => false, tables => '{r29.invoice_lines}');
SELECT item FROM r29.invoice_lines WHERE id = 171;

-- Composite keys: every column of the key is given, the tenant column too when it is part of
-- it; naming another tenant there reaches nothing of that tenant.
CREATE TABLE r29.tags (acct29r integer NOT NULL, code text NOT NULL, label text, PRIMARY KEY (acct29r, code));
CREATE TABLE r29.invoice_tags (acct29r integer NOT NULL, invoice_id integer NOT NULL REFERENCES r29.invoices, code text NOT NULL,
                               PRIMARY KEY (acct29r, invoice_id, code), FOREIGN KEY (acct29r, code) REFERENCES r29.tags);
CREATE INDEX ON r29.invoice_tags (acct29r, code);
INSERT INTO r29.tags VALUES (2901, 'vip', 'VIP'), (2901, 'late', 'Late'), (2902, 'vip', 'theirs');
INSERT INTO r29.invoice_tags VALUES (2901, 17, 'vip'), (2901, 18, 'vip'), (2901, 18, 'late'), (2902, 99, 'vip');
SELECT tenant_backup.backup_create('2901', 'with tags') AS b2 \gset
DELETE FROM r29.invoice_tags WHERE acct29r = 2901 AND code = 'vip';
DELETE FROM r29.tags WHERE acct29r = 2901 AND code = 'vip';
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b2, dry_run => false, rows => '{"r29.tags": [{"acct29r": 2901, "code": "vip"}]}')
ORDER BY 1;
SELECT acct29r, invoice_id, code FROM r29.invoice_tags ORDER BY 1, 2, 3;
SELECT table_name, rows_removed, rows_restored
FROM tenant_backup.backup_restore(:b2, dry_run => false, rows => '{"r29.tags": [{"acct29r": 2902, "code": "vip"}]}')
ORDER BY 1;
SELECT acct29r, code, label FROM r29.tags ORDER BY 1, 2;
SELECT acct29r, invoice_id, code FROM r29.invoice_tags ORDER BY 1, 2, 3;
SELECT set_config('r29.b1', :'b2', false) IS NOT NULL AS set;
SELECT r29.refused('{"r29.tags": [{"code": "vip"}]}');

RESET tenant_backup.pre_restore_backup;
RESET tenant_backup.tenant_column;
SELECT tenant_backup.backup_revoke('r29_viewer', 'backup.view', '2901');
SET client_min_messages = warning;
DROP SCHEMA r29 CASCADE;
DROP ROLE r29_viewer;
RESET client_min_messages;
