# Backups that outlive their database (issue 18): the local repository describes itself (a record
# beside every archive, every tenant's wrapped key), so that a new database with the same schema
# and master key scans it, attaches its backups and restores every tenant exactly; records
# tampered with (another tenant's name, altered row counts, a swapped key) are refused; a moved
# repository directory restores; DROP EXTENSION and CREATE EXTENSION again lose nothing; a
# forgotten tenant's archives are reported unreadable.
use strict;
use warnings FATAL => 'all';

use File::Copy qw(copy move);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use RepositoryTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $repo = "$tmp/repo";
my $key_file = "$tmp/master.key";
write_key_file($key_file, '3333333333333333333333333333333333333333333333333333333333333333');
my $node = repository_node('attach', $repo, $key_file);
my $schema = accounts_schema();
my $data = accounts_data(3, 3000, 'x', 17);

$node->safe_psql('postgres', 'CREATE DATABASE prod');
sq('prod', $schema . $data);
my %before = map { $_ => fingerprint('prod', $_) } 1 .. 3;
my %ids;
$ids{$_} = sq('prod', "SELECT tenant_backup.backup_create('$_', 'nightly $_')") for 1 .. 3;
is(sq('prod', 'SELECT count(*) FROM tenant_backup.backups WHERE encrypted'), '3', 'three encrypted backups');

my @records = files_under($repo, qr/\.tbk\.record$/);
is(scalar(@records), 3, 'a record lies beside every archive');
my @keys = files_under($repo, qr{/keys/.*\.key$});
is(scalar(@keys), 3, 'and every tenant key is in the repository');
unlike(slurp_file($keys[0]), qr/"wrapped_key": "\\\\x/, 'a key record holds the wrapped key only (hex)');
is(sq('prod', "SELECT string_agg(state, ',') FROM tenant_backup.backup_repository_scan('local')"),
	'known,known,known', 'the database that took them knows them all');

# --- The database is lost ---------------------------------------------------------------------
$node->safe_psql('postgres', 'DROP DATABASE prod');
$node->safe_psql('postgres', 'CREATE DATABASE rebuilt');
sq('rebuilt', $schema);
is(sq('rebuilt', "SELECT string_agg(state || ' ' || tenant || ' ' || original_backup_id || ' ' || authenticated, ',' ORDER BY tenant) "
	  . "FROM tenant_backup.backup_repository_scan('local')"),
	"unknown 1 $ids{1} true,unknown 2 $ids{2} true,unknown 3 $ids{3} true",
	'a new database finds every backup, authenticated, by its original id');

# Tampering: each altered record is damaged for scan and refused by attach.
my ($rec3) = grep { my $t = slurp_file($_); $t =~ /"tenant": "3"/ } @records;
my $orig3 = slurp_file($rec3);

(my $other = $orig3) =~ s/"tenant": "3"/"tenant": "1"/;
rewrite($rec3, $other);
like(sq('rebuilt', "SELECT state || ': ' || detail FROM tenant_backup.backup_repository_scan('local') WHERE original_backup_id IS NULL OR original_backup_id = $ids{3}"),
	qr/^damaged: the record fails its authentication/, "a record given another tenant's name is damaged");
like(sq('rebuilt', "SELECT outcome || ': ' || detail FROM tenant_backup.backup_attach('local', object_name => '"
	  . ($rec3 =~ s{^\Q$repo\E/}{}r =~ s/\.record$//r) . "')"),
	qr/^refused: the record fails its authentication/, 'and attach refuses it');

(my $rows = $orig3) =~ s/"row_count": (\d+)/'"row_count": ' . ($1 + 1)/e;
isnt($rows, $orig3, 'the test altered the row count');
rewrite($rec3, $rows);
like(sq('rebuilt', "SELECT string_agg(state, ',') FROM tenant_backup.backup_repository_scan('local')"),
	qr/damaged/, 'a record with altered row counts is damaged');
rewrite($rec3, $orig3);

# A swapped key: tenant 3's key record replaced by tenant 1's.
my %key_of = map { my $t = slurp_file($_); $t =~ /"tenant": "(\d)"/; ($1 => $_) } @keys;
my $key3 = slurp_file($key_of{3});
copy($key_of{1}, $key_of{3}) or die;
like(sq('rebuilt', "SELECT state || ': ' || detail FROM tenant_backup.backup_repository_scan('local') WHERE tenant = '3'"),
	qr/^keys_missing: key record .* is of another tenant or generation/, "another tenant's key in its place is refused");
like(sq('rebuilt', "SELECT outcome FROM tenant_backup.backup_attach('local', tenant => '3')"),
	qr/^refused$/, 'and attach refuses the backup');
rewrite($key_of{3}, $key3);
is(sq('rebuilt', 'SELECT count(*) FROM tenant_backup.backups'), '0', 'nothing was attached so far');

# Attach everything and restore every tenant exactly.
is(sq('rebuilt', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('local')"),
	'attached,attached,attached', 'attach adds the three backups');
is(sq('rebuilt', 'SELECT string_agg(original_id::text, \',\' ORDER BY original_id) FROM tenant_backup.backups'),
	join(',', sort { $a <=> $b } values %ids), 'their original ids are recorded');
is(sq('rebuilt', "SELECT count(*) FROM tenant_backup.tenant_keys WHERE origin IS NOT NULL"), '3',
	'their keys are kept, re-wrapped, under generations of this database');
is(sq('rebuilt', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('local')"),
	'already_known,already_known,already_known', 'attaching again adds nothing');
for my $t (1 .. 3)
{
	my $id = sq('rebuilt', "SELECT id FROM tenant_backup.backups WHERE tenant = '$t'");
	sq('rebuilt', "SELECT * FROM tenant_backup.backup_restore($id)");
	is(fingerprint('rebuilt', $t), $before{$t}, "tenant $t is restored exactly");
}
is(sq('rebuilt', 'SELECT string_agg(ok::text, \',\') FROM tenant_backup.backups b, tenant_backup.backup_verify(b.id) v'),
	'true,true,true', 'attached backups verify');

# New backups of this database: keys of their own, never the attached ones.
my $own = sq('rebuilt', "SELECT tenant_backup.backup_create('1')");
is(sq('rebuilt', "SELECT k.origin IS NULL FROM tenant_backup.backups b JOIN tenant_backup.tenant_keys k ON k.generation = b.key_generation WHERE b.id = $own"),
	't', 'a new backup uses a key of its own');

# An archive altered after attach is refused on restore.
my $att1 = sq('rebuilt', "SELECT id FROM tenant_backup.backups WHERE tenant = '2' AND original_id IS NOT NULL");
my $obj = "$repo/" . sq('rebuilt', "SELECT object_name FROM tenant_backup.backups WHERE id = $att1");
my $good = slurp_file($obj);
my $bad = $good;
substr($bad, 200, 1) = chr(ord(substr($bad, 200, 1)) ^ 1);
rewrite($obj, $bad);
like(err('rebuilt', "SELECT * FROM tenant_backup.backup_restore($att1)"), qr/failed its SHA-256 check/,
	'a tampered archive is refused on restore');
rewrite($obj, $good);

# --- Moving the repository --------------------------------------------------------------------
$node->stop;
move($repo, "$tmp/moved") or die "move: $!";
$node->append_conf('postgresql.conf', "tenant_backup.repository = '$tmp/moved'\n");
$node->start;
$repo = "$tmp/moved";
sq('rebuilt', "DELETE FROM notes WHERE tenant_id = 2");
sq('rebuilt', "SELECT * FROM tenant_backup.backup_restore($att1)");
is(fingerprint('rebuilt', 2), $before{2}, 'after the directory moved (and the setting with it), restores work');
like(sq('rebuilt', "SELECT location FROM tenant_backup.backup_list('2') WHERE id = $att1"),
	qr/^\Q$tmp\E\/moved\//, 'backup_list shows where the archive is now');
unlike(sq('rebuilt', "SELECT location FROM tenant_backup.backup_copies WHERE backup_id = $att1"),
	qr/moved/, 'the stored location is stale');
sq('rebuilt', 'SELECT count(*) FROM tenant_backup.backup_sync()');
like(sq('rebuilt', "SELECT location FROM tenant_backup.backup_copies WHERE backup_id = $att1"),
	qr/^\Q$tmp\E\/moved\//, 'until backup_sync() brings it up to date');

# --- DROP EXTENSION, CREATE EXTENSION, attach -------------------------------------------------
my $refusal = err('rebuilt', 'DROP EXTENSION tenant_backup');
like($refusal, qr/DROP EXTENSION tenant_backup would destroy the catalog of 4 backup\(s\), 4 tenant key\(s\)/,
	'DROP EXTENSION is refused, saying what it would destroy');
like($refusal, qr/The archives stay in the repositories.*backup_attach\('local'\)/s, 'and how to get it back');
like($refusal, qr/SET tenant_backup.drop_confirmed = on/, 'and how to drop it anyway');
is(sq('rebuilt', "SELECT count(*) FROM pg_extension WHERE extname = 'tenant_backup'"), '1', 'the extension is still there');
# A new session, the library not loaded yet: refused all the same.
like(err('rebuilt', 'DROP EXTENSION IF EXISTS plpgsql_nonexistent, tenant_backup CASCADE'), qr/would destroy/,
	'also in a list, with CASCADE, in a session that never used the extension');
like(err('rebuilt', 'DROP SCHEMA tenant_backup CASCADE'),
	qr/DROP SCHEMA tenant_backup would drop extension tenant_backup and destroy the catalog of 4 backup\(s\)/,
	'so is dropping its schema, naming the statement run');
sq('rebuilt', "SET tenant_backup.drop_confirmed = on; DROP EXTENSION tenant_backup");
sq('rebuilt', 'CREATE EXTENSION tenant_backup');
my $fresh = sq('rebuilt', "SELECT tenant_backup.backup_create('3')");
is($fresh, '1', 'a catalog created again starts at backup id 1');
# The dropped catalog held backups attached from prod and backups of its own: two sources, which
# attach never mixes unasked (another database's tenant of the same name may be another customer).
my $mixed = err('rebuilt', "SELECT * FROM tenant_backup.backup_attach('local')");
like($mixed, qr/repository "local" holds backups of 2 databases: .*"prod".*"rebuilt".*nothing was attached/,
	'attach from a repository of two databases names both and attaches nothing');
like($mixed, qr/source_database => '\*'/, 'and says how to attach from both');
is(sq('rebuilt', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('local', source_database => '*') WHERE outcome <> 'already_known'"),
	'attached,attached,attached,attached', 'attach brings back every backup the dropped catalog had');
my @keys_now = files_under($repo, qr{/keys/.*\.key$});
is(scalar(@keys_now), 5, 'the new catalog wrote its key beside the old ones, overwriting none');

# --- Forgetting a tenant ----------------------------------------------------------------------
# Another database of the cluster writes to the same repository, and has a tenant '1' of its own
# (another customer): forgetting tenant 1 here never touches its key records.
$node->safe_psql('postgres', 'CREATE DATABASE neighbour');
sq('neighbour', $schema . $data);
sq('neighbour', "SELECT tenant_backup.backup_create('1')");
my $neighbour_oid = sq('postgres', "SELECT oid FROM pg_database WHERE datname = 'neighbour'");
my $neighbours = qr{/$neighbour_oid/keys/.*\.key$};
my @neighbour_keys = files_under($repo, $neighbours);
is(scalar(@neighbour_keys), 1, "the neighbour's key record is in the repository");
# A copy of the whole repository made by hand, registered but holding no copy this catalog knows:
# forgetting reaches its key records all the same.
system_or_bail('cp', '-a', $repo, "$tmp/cold");
sq('rebuilt', "SELECT tenant_backup.backup_repository_add('cold', 'file://$tmp/cold')");
like(sq('rebuilt', "SELECT tenant_backup.backup_forget_tenant('1')"), qr/forgotten/, 'tenant 1 is forgotten');
is(scalar(grep { slurp_file($_) =~ /"tenant": "1"/ && $_ !~ $neighbours } files_under($repo, qr{/keys/.*\.key$})), 0,
	'every key record of tenant 1, of either catalog, is gone');
@neighbour_keys = files_under($repo, $neighbours);
is(scalar(@neighbour_keys), 1, "the neighbour's key record of its own tenant 1 stays");
is(sq('neighbour', "SELECT string_agg(state, ',') FROM tenant_backup.backup_repository_scan('local') WHERE source ~ '^database neighbour '"),
	'known', 'and its backup stays readable from the repository');
is(scalar(grep { slurp_file($_) =~ /"tenant": "1"/ && $_ !~ $neighbours } files_under("$tmp/cold", qr{/keys/.*\.key$})), 0,
	'also from the copy');
# (The forget left its tenant tombstones there too, issue 18: the archives scan as forgotten.)
is(sq('rebuilt', "SELECT count(*) || ' ' || string_agg(DISTINCT state, ',') FROM tenant_backup.backup_repository_scan('cold') WHERE tenant = '1' AND source !~ '^database neighbour '"),
	'2 forgotten', 'the archives of tenant 1 left in the copy are reported forgotten');
like(sq('rebuilt', "SELECT min(detail) FROM tenant_backup.backup_repository_scan('cold') WHERE tenant = '1' AND source !~ '^database neighbour '"),
	qr/^tenant "1" was forgotten at /, 'saying why');
is(count_files("$tmp/cold", qr{/tombstones/.*\.tombstone$}), 2,
	"a tenant tombstone for each database whose backups of tenant 1 this catalog held (its own, prod's)");
unlink files_under("$tmp/cold", qr{/tombstones/.*\.tombstone$});
is(sq('rebuilt', "SELECT count(*) || ' ' || string_agg(DISTINCT state, ',') FROM tenant_backup.backup_repository_scan('cold') WHERE tenant = '1' AND source !~ '^database neighbour '"),
	'2 keys_missing', 'without the tombstones, they are still unreadable: their keys are gone');
like(sq('rebuilt', "SELECT min(detail) FROM tenant_backup.backup_repository_scan('cold') WHERE tenant = '1' AND source !~ '^database neighbour '"),
	qr/^no key record of tenant "1" \(generation \d+\) is in the repository$/, 'saying why');
like(err('rebuilt', "SELECT * FROM tenant_backup.backup_attach('cold', tenant => '1')"),
	qr/holds backups of \d databases: .*"neighbour"/,
	"attach of tenant 1 never takes the neighbour's tenant 1 unasked");
is(sq('rebuilt', "SELECT count(*) FROM tenant_backup.backup_attach('cold', tenant => '1', source_database => 'prod') WHERE outcome = 'attached'"),
	'0', 'and attach refuses the forgotten ones');

done_testing();
