-- tenant_backup regression tests, part 11: downloads (JSON) and CSV exports. A download is one
-- JSON document returned as rows of text, one per line; written verbatim (psql -At, or
-- COPY (FORMAT csv) with a quote and delimiter that never occur, see docs/REFERENCE.md) it is a .json file.
CREATE EXTENSION IF NOT EXISTS tenant_backup;
SELECT setval('tenant_backup.backups_id_seq', 11000) AS id_base \gset
SET tenant_backup.tenant_column = 'dl_tenant';
SET TimeZone = 'Africa/Nairobi';
CREATE SCHEMA dl;
CREATE TYPE dl.mood AS ENUM ('calm', 'busy');
CREATE TABLE dl.typed (
    dl_tenant int NOT NULL,
    id        int PRIMARY KEY,
    name      text,
    amount    numeric,
    ratio     float8,
    at        timestamptz,
    day       date,
    blob      bytea,
    doc       jsonb,
    raw       json,
    tags      text[],
    grid      int[],
    mood      dl.mood,
    uid       uuid
);
CREATE INDEX ON dl.typed (dl_tenant);
INSERT INTO dl.typed VALUES
    (1101, 1, 'plain', 1.5, 0.1, '2024-03-01 12:00:00+03', '2024-03-01', '\x00ff', '{"a": [1, 2, {"b": null}]}',
     '{"keep":  "spacing"}', '{x,y}', '{{1,2},{3,4}}', 'calm', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
    (1101, 2, E'quote " backslash \\ newline \n tab \t unicode ü € 🎉', 12345678901234567890.123456789012345678901,
     'NaN', '2024-07-01 00:00:00 America/New_York', '0001-01-01', '', '"just a string"', '[]', '{NULL,"",", \""}',
     NULL, 'busy', NULL),
    (1101, 3, '', -0.000000000000000000001, '-Infinity', '-infinity', 'infinity', NULL, 'null', 'null', '{}', '{}',
     NULL, NULL),
    (1101, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (1101, 5, repeat('long text ', 5000), 0, 1e308, '2024-01-01 00:00:00+14', '2024-02-29', decode(repeat('ab', 3000), 'hex'),
     '{"n": 1.000000000000000000001}', '{"n": 1.000000000000000000001}', '{a}', '{0}', 'calm', NULL),
    (1102, 6, 'other tenant', 1, 1, now(), now()::date, '\x01', '{}', '{}', '{}', '{}', 'calm', NULL);

SELECT tenant_backup.backup_create('1101', 'download me') AS bid \gset
CREATE TEMP TABLE dl_doc AS
    SELECT row_number() OVER () AS n, line FROM tenant_backup.backup_download(:bid) AS line;

-- The lines make one valid JSON document.
CREATE TEMP TABLE dl_json AS SELECT string_agg(line, E'\n' ORDER BY n)::json AS doc FROM dl_doc;
SELECT doc->>'format' AS format, doc->>'format_version' AS version,
       doc->'backup'->>'id' = :'bid' AS id_matches, doc->'backup'->>'tenant' AS tenant,
       doc->'backup'->>'kind' AS kind, doc->'backup'->>'label' AS label,
       doc->'backup'->>'checksum' = (SELECT sha256 FROM tenant_backup.backups WHERE id = :bid) AS checksum_matches,
       doc->'backup'->>'server_version' = current_setting('server_version') AS server_version_matches
FROM dl_json;
-- Its trailing sha256 is the SHA-256 of every line before the last, each followed by "\n".
SELECT (SELECT doc->>'sha256' FROM dl_json) =
       encode(sha256(convert_to(string_agg(line || E'\n', '' ORDER BY n), 'UTF8')), 'hex') AS sha256_matches
FROM dl_doc WHERE n < (SELECT max(n) FROM dl_doc);
-- One line per row, and row counts that match the catalog.
SELECT count(*) AS lines FROM dl_doc;
SELECT t->>'schema' AS schema, t->>'name' AS name, t->>'tenant_column' AS tenant_column,
       json_array_length(t->'rows') AS rows, (t->>'row_count')::int AS row_count,
       (SELECT (c->>'rows')::int FROM tenant_backup.backups b, jsonb_array_elements(b.tables) c
        WHERE b.id = :bid AND c->>'name' = t->>'name') AS catalog_rows
FROM dl_json, json_array_elements(doc->'tables') t;
SELECT c->>'name' AS column_name, c->>'type' AS type
FROM dl_json, json_array_elements(doc->'tables'->0->'columns') c;
-- Values are rendered as to_json renders them ...
SELECT r->'id' AS id, r->'amount' AS amount, r->'ratio' AS ratio, r->'at' AS at, r->'blob' AS blob,
       r->'doc' AS doc, r->'raw' AS raw, r->'tags' AS tags, r->'grid' AS grid
FROM dl_json, json_array_elements(doc->'tables'->0->'rows') r WHERE (r->>'id')::int < 5;
SELECT (SELECT to_json(t) FROM dl.typed t WHERE id = 2)::text = r::text AS row_2_as_to_json
FROM dl_json, json_array_elements(doc->'tables'->0->'rows') r WHERE (r->>'id')::int = 2;
-- ... so every value comes back exactly through json_populate_record, but for one ambiguity of
-- to_json that docs/FORMAT.md states: a json/jsonb value that is JSON null (row 3) reads as null,
-- like SQL NULL.
SELECT t.id, p::text = t::text AS identical, t.doc AS doc_before, p.doc AS doc_back, t.raw AS raw_before,
       p.raw AS raw_back
FROM dl_json, json_array_elements(doc->'tables'->0->'rows') r,
     json_populate_record(NULL::dl.typed, r) p
JOIN dl.typed t ON t.id = p.id
ORDER BY t.id;

-- CSV export of a table of the backup: header, then one record per row, as COPY (FORMAT csv)
-- writes them (NULL unquoted empty, the empty string quoted).
SELECT line FROM tenant_backup.backup_export_csv(:bid, 'dl.typed') AS line WHERE length(line) < 300;
-- CSV export of a tenant's current rows: the change since the backup shows.
UPDATE dl.typed SET name = 'changed, after the backup' WHERE id = 1;
SELECT line FROM tenant_backup.tenant_export_csv('1101', 'dl.typed') AS line WHERE line LIKE '1101,1,%' OR line LIKE 'dl_%';
SELECT count(*) AS other_tenant_lines FROM tenant_backup.tenant_export_csv('1102', 'dl.typed');

-- Bad input: clear errors.
SELECT count(*) FROM tenant_backup.backup_download(NULL);
SELECT count(*) FROM tenant_backup.backup_download(999999);
SELECT count(*) FROM tenant_backup.backup_export_csv(:bid, 'app.countries');
SELECT count(*) FROM tenant_backup.backup_export_csv(:bid, NULL);
SELECT count(*) FROM tenant_backup.tenant_export_csv('1101', 'app.countries');
SELECT count(*) FROM tenant_backup.tenant_export_csv('not a number', 'dl.typed');
SELECT count(*) FROM tenant_backup.tenant_export_csv(NULL, 'dl.typed');

RESET TimeZone;
DROP TABLE dl_doc, dl_json;
SELECT tenant_backup.backup_delete(:bid);
DROP SCHEMA dl CASCADE;
RESET tenant_backup.tenant_column;
