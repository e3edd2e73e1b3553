# A download written to a file the way docs/REFERENCE.md says (psql -At), opened with a standard JSON
# parser (Python's json), handed back as a file (psql's \lo_import) and restored: the tenant is
# exactly as it was. A large tenant goes both ways with bounded backend memory.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('download');
$node->init;
$node->append_conf('postgresql.conf',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'");
# Shared buffers count in a backend's resident memory once touched: keep them small, so that the
# memory measured below is the backend's own.
$node->append_conf('postgresql.conf', "shared_buffers = 16MB");
$node->start;
my $dir = PostgreSQL::Test::Utils::tempdir;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE accounts (tenant_id int NOT NULL, id int PRIMARY KEY, name text, balance numeric(20,4),
                       opened timestamptz, tags text[], settings jsonb, photo bytea);
CREATE INDEX ON accounts (tenant_id);
CREATE TABLE events (tenant_id int NOT NULL, id bigint PRIMARY KEY, account_id int REFERENCES accounts (id),
                     at timestamptz, payload json, note text);
CREATE INDEX ON events (tenant_id);
INSERT INTO accounts VALUES
    (1, 1, E'Ada "the first" \\\\ Lovelace', 1234567890123456.1234, '1815-12-10 08:00+00', '{a,"b c",NULL}',
     '{"theme": "dark", "n": 1.5e300}', '\x89504e47'),
    (1, 2, E'line one\nline two\ttabbed ☃ 𝄞', -0.0001, 'infinity', '{}', '[]', ''),
    (1, 3, NULL, NULL, NULL, NULL, NULL, NULL),
    (2, 4, 'another tenant', 1, now(), '{x}', '{}', '\x00');
INSERT INTO events SELECT 1, g, 1 + g % 3, '2026-01-01 00:00+00'::timestamptz + g * interval '1 minute',
                          json_build_object('g', g, 's', repeat('é', g % 7)), md5(g::text)
                   FROM generate_series(1, 2000) g;
INSERT INTO events VALUES (2, 2001, 4, now(), '{}', 'other tenant');
});

# psql -At writes each row of text followed by "\n": the document, verbatim.
sub download
{
	my ($id, $file) = @_;
	PostgreSQL::Test::Utils::system_or_bail('psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d',
		$node->connstr('postgres'), '-c', "SELECT * FROM tenant_backup.backup_download($id)", '-o', $file);
}

# The document uploaded with \lo_import and imported; returns the new backup's id.
sub import_file
{
	my ($file) = @_;
	return $node->safe_psql(
		'postgres', qq{
\\lo_import '$file'
SELECT tenant_backup.backup_import_large_object(:LASTOID) AS imported \\gset
SELECT lo_unlink(:LASTOID) \\gset
SELECT :imported;
});
}

my $snapshot = q{SELECT string_agg(r, E'\n' ORDER BY r) FROM (
    SELECT a::text AS r FROM accounts a WHERE tenant_id = 1
    UNION ALL SELECT e::text FROM events e WHERE tenant_id = 1) s};
my $before = $node->safe_psql('postgres', $snapshot);
my $id = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1', 'nightly')");
my $file = "$dir/tenant1.json";
download($id, $file);

# A standard JSON parser reads it; its row counts match the catalog, its checksum the file.
my $catalog = $node->safe_psql('postgres',
	"SELECT string_agg((t->>'name') || '=' || (t->>'rows'), ',' ORDER BY t->>'name') "
	  . "FROM tenant_backup.backups, jsonb_array_elements(tables) t WHERE id = $id");
my $python = q{
import hashlib, json, sys
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    doc = json.load(f)
with open(path, "rb") as f:
    data = f.read()
body = data[:data.rstrip(b"\n").rfind(b"\n") + 1]
assert hashlib.sha256(body).hexdigest() == doc["sha256"], "checksum"
counts = []
for t in sorted(doc["tables"], key=lambda t: t["name"]):
    assert len(t["rows"]) == t["row_count"], "row_count"
    counts.append("%s=%d" % (t["name"], len(t["rows"])))
print(",".join(counts), doc["format"], doc["backup"]["tenant"], doc["backup"]["label"],
      doc["tables"][0]["rows"][0]["name"] if doc["tables"][0]["name"] == "accounts" else "")
};
my ($stdout, $stderr);
IPC::Run::run([ 'python3', '-c', $python, $file ], '>', \$stdout, '2>', \$stderr);
chomp $stdout;
is($stdout, "$catalog tenant_backup.json 1 nightly Ada \"the first\" \\ Lovelace",
	'Python json parses the download; row counts match the catalog; the checksum matches the file')
  or diag($stderr);

# Changed since: restoring the imported file brings the tenant back exactly.
$node->safe_psql('postgres',
	"UPDATE accounts SET name = 'changed' WHERE id = 1; DELETE FROM events WHERE tenant_id = 1 AND id > 1000");
my $imported = import_file($file);
like($imported, qr/^\d+$/, "the file imported as backup $imported");
is( $node->safe_psql(
		'postgres',
		"SELECT kind || ' ' || tenant || ' ' || label || ' ' || (claimed ->> 'label') FROM tenant_backup.backups "
		  . "WHERE id = $imported"),
	'imported 1 imported: nightly nightly',
	'an imported backup of the tenant, with its label marked as the document\'s claim');
$node->safe_psql('postgres', "SET TimeZone = 'Pacific/Chatham'; SELECT * FROM tenant_backup.backup_restore($imported)");
is($node->safe_psql('postgres', $snapshot), $before, 'restoring the imported file gives exactly the original rows');
is($node->safe_psql('postgres', "SELECT count(*) FROM events WHERE tenant_id = 2"), '1', 'the other tenant is untouched');

# An altered file is refused.
my $text = slurp_file($file);
$text =~ s/line one/line 1/;
open(my $fh, '>', "$dir/altered.json") or die;
print $fh $text;
close $fh;
my ($rc, $out, $err) = $node->psql('postgres', "\\lo_import '$dir/altered.json'\nSELECT tenant_backup.backup_import_large_object(:LASTOID);");
like($err, qr/the document was altered/, 'an altered file is refused');

# A large tenant both ways: the backend's peak memory grows far less than the document's size.
$node->safe_psql(
	'postgres', q{
CREATE TABLE big (tenant_id int NOT NULL, id int NOT NULL, body text);
CREATE INDEX ON big (tenant_id);
INSERT INTO big SELECT 7, g, repeat(md5(g::text), 30) FROM generate_series(1, 100000) g;
});
my $big_id = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('7')");
my $big_file = "$dir/big.json";
my $peak = q{SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') FROM 'VmHWM:\s*(\d+)')::int};
my $download_growth = $node->safe_psql(
	'postgres', qq{
LOAD 'tenant_backup';
SELECT ($peak) AS start \\gset
COPY (SELECT * FROM tenant_backup.backup_download($big_id)) TO '$big_file' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02');
SELECT ($peak) - :start;
});
my $size = -s $big_file;
cmp_ok($size, '>', 90_000_000, "the large download is $size bytes");
($imported, my $growth) = split /\n/, $node->safe_psql(
	'postgres', qq{
LOAD 'tenant_backup';
SELECT ($peak) AS start \\gset
\\lo_import '$big_file'
SELECT tenant_backup.backup_import_large_object(:LASTOID) AS imported \\gset
SELECT :imported;
SELECT ($peak) - :start;
});
cmp_ok($download_growth, '<', 64 * 1024, "download: backend peak memory grew by $download_growth kB");
cmp_ok($growth, '<', 64 * 1024, "import: backend peak memory grew by $growth kB");
is($node->safe_psql('postgres', "SELECT row_count FROM tenant_backup.backups WHERE id = $imported"),
	'100000', 'the large document imported whole');
is($node->safe_psql('postgres', "SELECT ok FROM tenant_backup.backup_verify($imported)"), 't',
	'and verifies');

$node->stop;
done_testing();
