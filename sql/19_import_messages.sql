-- tenant_backup regression tests, part 19 (issue 19.11): a download that a tool rewrote is
-- refused naming the likely cause (re-serialized JSON, CR LF line endings, COPY's text or CSV
-- escaping), with the command that writes a download right. Nothing is imported.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SET tenant_backup.tenant_column = 'ig_tenant';
SET tenant_backup.unencrypted_backups = 'allow';
SET client_min_messages = error;
SET log_min_error_statement = panic;
CREATE SCHEMA ig;
CREATE TABLE ig.notes (ig_tenant int NOT NULL, id int PRIMARY KEY, body text);
CREATE INDEX ON ig.notes (ig_tenant);
-- A quote and a backslash: JSON escapes both with a backslash.
INSERT INTO ig.notes VALUES (1941, 1, 'say "hi"'), (1941, 2, 'C:\temp');
SELECT tenant_backup.backup_create('1941') AS bid \gset
SELECT string_agg(line || E'\n', '' ORDER BY n) AS doc
FROM tenant_backup.backup_download(:bid) WITH ORDINALITY AS d(line, n) \gset
SELECT count(*) AS backups_before FROM tenant_backup.backups \gset
\set VERBOSITY default

-- Written with psql -At: imported.
SELECT tenant_backup.backup_import(:'doc') > :bid AS imported;
-- Pretty-printed by a JSON tool (jsonb_pretty sorts the keys, as jq -S would), or compacted.
SELECT tenant_backup.backup_import(jsonb_pretty(:'doc'::jsonb));
SELECT tenant_backup.backup_import((:'doc'::jsonb)::text);
-- CR LF line endings.
SELECT tenant_backup.backup_import(replace(:'doc', E'\n', E'\r\n'));
-- \copy ... TO 'file' in COPY's text format: every backslash doubled.
SELECT tenant_backup.backup_import(replace(:'doc', E'\\', E'\\\\'));
-- COPY ... (FORMAT csv) with the default QUOTE: every line quoted, quotes doubled.
SELECT tenant_backup.backup_import(string_agg('"' || replace(line, '"', '""') || '"' || E'\n', '' ORDER BY n))
FROM regexp_split_to_table(rtrim(:'doc', E'\n'), E'\n') WITH ORDINALITY AS l(line, n);
-- An edited row is still "altered", and what is no download at all "not a tenant_backup download".
SELECT tenant_backup.backup_import(replace(:'doc', 'say', 'sad'));
SELECT tenant_backup.backup_import(E'{\n"hello": 1\n}\n');

SELECT count(*) - :backups_before AS new_backups FROM tenant_backup.backups;
RESET tenant_backup.unencrypted_backups;
