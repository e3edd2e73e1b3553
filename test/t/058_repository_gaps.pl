# Backups that outlive their database (issue 18), the remaining gaps:
#  - backup_repository_scan lists an archive without its record (no_record), known or not;
#  - records tampered with in the repository (altered row counts, an altered key generation, another
#    tenant's authentic record and archive under this one's names) are refused on attach; after
#    attach, a record or key record altered has no say in a restore, and an archive swapped for
#    another tenant's authentic one is refused on restore;
#  - backup_forget_tenant with a repository out of reach (its directory unreadable; with
#    TB_S3_HARNESS, an S3 endpoint that does not answer) and with a key record that cannot be
#    removed at commit: the notice and the WARNING name the repository, and backup_sync() removes
#    the key records once it can, never the key of a tenant of the same name backed up again since;
#  - backup_repository_alter moves a file:// repository (and, with TB_S3_HARNESS, an S3 one to
#    another prefix): restores read the copies at the new URL.
use strict;
use warnings FATAL => 'all';

use File::Copy qw(copy move);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SwiftHarness;
use RepositoryTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $repo = "$tmp/repo";
my $side = "$tmp/side";
my $key_file = "$tmp/master.key";
write_key_file($key_file, '5858585858585858585858585858585858585858585858585858585858585858');

# S3 (optional): the Swift harness of 011.
my $with_s3 = swift_available();
my ($endpoint, $bucket, $opts, $curl);
if ($with_s3)
{
	my %s3 = %{ swift_start($ENV{TB_S3_TAP_PORT} // 18580) };
	($endpoint, $bucket) = @s3{qw(TB_S3_ENDPOINT TB_S3_BUCKET)};
	$ENV{AWS_ACCESS_KEY_ID} = $s3{TB_S3_ACCESS_KEY};
	$ENV{AWS_SECRET_ACCESS_KEY} = $s3{TB_S3_SECRET};
	$opts = qq{"endpoint": "$endpoint", "region": "us-east-1", "path_style": true};
	$curl = s3_curl_command() . ' -f';
}
# The keys of the bucket's objects under a prefix, seen through curl, independently of our driver.
sub bucket_keys
{
	my ($prefix) = @_;
	# (a prefix without "/": curl signs the query as it is, and S3 checks it encoded)
	my $out = `$curl '$endpoint/$bucket?prefix=$prefix'`;
	my @keys = sort($out =~ m{<Key>(.*?)</Key>}g);
	return @keys;
}

my $node = repository_node('repository_gaps', $repo, $key_file);
delete $ENV{AWS_ACCESS_KEY_ID};
delete $ENV{AWS_SECRET_ACCESS_KEY};

my $schema = accounts_schema();
my $data = accounts_data(5, 2500, 'y', 13);

# The key records of a tenant under a directory.
sub tenant_keys
{
	my ($dir, $t) = @_;
	return grep { slurp_file($_) =~ /"tenant": "$t"/ } files_under($dir, qr{/keys/.*\.key$});
}

$node->safe_psql('postgres', 'CREATE DATABASE prod');
sq('prod', $schema . $data);
sq('prod', "SELECT tenant_backup.backup_repository_add('side', 'file://$side')");
my $layers = 'local, side';
if ($with_s3)
{
	sq('prod', qq{SELECT tenant_backup.backup_repository_add('offsite', 's3://$bucket/g058', '{$opts}')});
	$layers .= ', offsite';
}
my %before = map { $_ => fingerprint('prod', $_) } 1 .. 5;
my (%id, %object);
for my $t (1 .. 5)
{
	$id{$t} = sq('prod', "SET tenant_backup.repositories = '$layers'; SELECT tenant_backup.backup_create('$t')");
	$object{$t} = sq('prod', "SELECT object_name FROM tenant_backup.backups WHERE id = $id{$t}");
}
is(sq('prod', "SELECT count(*) FROM tenant_backup.backup_copies WHERE state = 'stored'"),
	5 * ($with_s3 ? 3 : 2), 'five encrypted backups, each stored in every repository');
is(sq('prod', 'SELECT count(*) FROM tenant_backup.backups WHERE described_at IS NOT NULL'), '5',
	'each described by a record in the repositories (described_at)');

# --- An archive without its record is listed -------------------------------------------------
unlink("$repo/$object{5}.record") or die;
is(sq('prod', "SELECT state || ' ' || backup_id || ' ' || original_backup_id || ' ' || (size_bytes > 0) || ' ' || "
	  . "authenticated || ' ' || coalesce(encrypted::text, 'null') FROM tenant_backup.backup_repository_scan('local') "
	  . "WHERE object_name = '$object{5}'"),
	"no_record $id{5} $id{5} true false null", 'scan lists an archive whose record is gone, as no_record');
my $id5 = $id{5};
like(sq('prod', "SELECT detail FROM tenant_backup.backup_repository_scan('local') WHERE object_name = '$object{5}'"),
	qr/this catalog knows it \(backup $id5\), and tenant_backup.backup_sync\(\) writes its record/,
	'saying that backup_sync writes it');
$node->safe_psql('postgres', 'CREATE DATABASE other');
sq('other', $schema);
is(sq('other', "SELECT state || ' ' || coalesce(backup_id::text, 'null') FROM tenant_backup.backup_repository_scan('local') "
	  . "WHERE object_name = '$object{5}'"),
	'no_record null', 'another database lists it too, unknown to its catalog');
like(sq('other', "SELECT outcome || ': ' || detail FROM tenant_backup.backup_attach('local', object_name => '$object{5}')"),
	qr/^refused: no record beside the archive: attach cannot add it/, 'and attach refuses it, saying why');
is(sq('other', "SELECT count(*) FROM tenant_backup.backups"), '0', 'nothing was attached');
like(sq('prod', "SELECT string_agg(action || ' ' || ok, ',') FROM tenant_backup.backup_sync() WHERE object_name = '$object{5}.record'"),
	qr/^write_record true$/, 'backup_sync writes the record again');
is(sq('prod', "SELECT state FROM tenant_backup.backup_repository_scan('local') WHERE object_name = '$object{5}'"),
	'known', 'and the archive is described again');

# --- Tampering: refused on attach ------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE staging');
sq('staging', $schema);
my $rec4 = "$repo/$object{4}.record";
my $orig4 = slurp_file($rec4);
(my $rows = $orig4) =~ s/"row_count": (\d+)/'"row_count": ' . ($1 + 7)/e;
isnt($rows, $orig4, 'the test altered the row count of a record');
rewrite($rec4, $rows);
like(sq('staging', "SELECT outcome || ': ' || detail FROM tenant_backup.backup_attach('local', object_name => '$object{4}')"),
	qr/^refused: the record fails its authentication/, 'attach refuses a record with altered row counts');
(my $generation = $orig4) =~ s/"key_generation": (\d+)/'"key_generation": ' . ($1 + 1)/e;
isnt($generation, $orig4, 'the test altered the key generation of a record');
rewrite($rec4, $generation);
like(sq('staging', "SELECT outcome || ': ' || detail FROM tenant_backup.backup_attach('local', object_name => '$object{4}')"),
	qr/^refused: the record fails its authentication/, 'attach refuses a record naming another key');
# Tenant 3's authentic record and archive put under tenant 4's names: the record describes another archive.
my $archive4 = slurp_file("$repo/$object{4}");
copy("$repo/$object{3}.record", $rec4) or die;
copy("$repo/$object{3}", "$repo/$object{4}") or die;
like(sq('staging', "SELECT state || ': ' || detail FROM tenant_backup.backup_repository_scan('local') WHERE object_name = '$object{4}'"),
	qr/^damaged: the record describes another archive/, "another tenant's record and archive under its names are damaged");
like(sq('staging', "SELECT outcome FROM tenant_backup.backup_attach('local', object_name => '$object{4}')"),
	qr/^refused$/, 'and attach refuses them');
rewrite($rec4, $orig4);
rewrite("$repo/$object{4}", $archive4);
is(sq('staging', "SELECT count(*) FROM tenant_backup.backups"), '0', 'nothing was attached so far');

# --- Tampering after attach: refused on restore ----------------------------------------------
is(sq('staging', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('local', tenant => '4')"),
	'attached', "staging attaches tenant 4's backup");
my $staged4 = sq('staging', "SELECT id FROM tenant_backup.backups WHERE tenant = '4'");
# Its record given another tenant's name, and its key record replaced by tenant 5's: the catalog
# row, authenticated at attach, and the key kept then decide the restore, not the repository now.
(my $renamed = $orig4) =~ s/"tenant": "4"/"tenant": "5"/;
rewrite($rec4, $renamed);
my ($key4) = tenant_keys($repo, 4);
my ($key5) = tenant_keys($repo, 5);
my $key4_text = slurp_file($key4);
copy($key5, $key4) or die;
sq('staging', "SELECT count(*) FROM tenant_backup.backup_restore($staged4)");
is(fingerprint('staging', 4), $before{4}, 'a record and key record altered after attach change nothing: tenant 4 is restored exactly');
is(fingerprint('staging', 5), '- 0:', "and no row of tenant 5 is loaded");
rewrite($rec4, $orig4);
rewrite($key4, $key4_text);
# Its archive swapped for tenant 5's (authentic, of the same database) together with its record.
copy("$repo/$object{5}", "$repo/$object{4}") or die;
copy("$repo/$object{5}.record", $rec4) or die;
sq('staging', "DELETE FROM notes WHERE tenant_id = 4 AND id % 2 = 0");
my $damaged = fingerprint('staging', 4);
like(err('staging', "SELECT count(*) FROM tenant_backup.backup_restore($staged4)"), qr/failed its SHA-256 check/,
	"a restore refuses the attached backup whose archive was swapped for another tenant's");
is(fingerprint('staging', 4), $damaged, 'and changes nothing');
is(fingerprint('staging', 5), '- 0:', 'loading no row of the other tenant');
rewrite("$repo/$object{4}", $archive4);
rewrite($rec4, $orig4);
sq('staging', "SELECT count(*) FROM tenant_backup.backup_restore($staged4)");
is(fingerprint('staging', 4), $before{4}, 'with its own archive back, it restores exactly');

# --- Forgetting with a repository out of reach -----------------------------------------------
is(scalar(tenant_keys($side, 1)), 1, "tenant 1's key record is in the side repository");
chmod 0000, $side or die;
my $forgot = sq('prod', "SELECT tenant_backup.backup_forget_tenant('1')");
chmod 0755, $side or die;
like($forgot, qr/NOT REACHED, its wrapped keys may remain in repository side: .*\(tenant_backup.backup_sync\(\) removes them once it reaches the repository\)/,
	'forgetting a tenant names the repository it could not reach, and what removes its keys there');
unlike($forgot, qr/NOT REACHED[^;]*repository local/, 'the local repository was reached');
is(scalar(tenant_keys($repo, 1)), 0, "tenant 1's key record is gone from the local repository");
is(scalar(tenant_keys($side, 1)), 1, 'but still in the side repository');
is(sq('prod', "SELECT string_agg(repository, ',' ORDER BY repository) FROM tenant_backup.pending_key_removals"),
	'local' . ($with_s3 ? ',offsite' : '') . ',side', 'each writable repository waits for the sync');
# A tenant of the same name backed up again: a key of its own, which the sync must keep.
my $again = sq('prod', "SET tenant_backup.repositories = 'local, side'; SELECT tenant_backup.backup_create('1')");
my $sync = sq('prod', "SELECT string_agg(action || ' ' || ok, ',') FROM tenant_backup.backup_sync() WHERE repository = 'side' AND action = 'remove_key'");
is($sync, 'remove_key true', 'backup_sync removes the key record from the repository reached again');
my @left = tenant_keys($side, 1);
is(scalar(@left), 1, 'one key record of tenant 1 is left there');
my $gen = sq('prod', "SELECT key_generation FROM tenant_backup.backups WHERE id = $again");
like($left[0], qr{/$gen-[0-9a-f]+\.key$}, 'the one of the tenant backed up again');
is(sq('prod', 'SELECT count(*) FROM tenant_backup.pending_key_removals'), '0', 'nothing waits any more');
is(sq('prod', "SELECT count(*) FROM tenant_backup.removed_objects WHERE repository = 'side'"), '0',
	'and the archives left there are removed too');
ok(!-e "$side/$object{1}", "tenant 1's forgotten archive is gone from the side repository");

# --- Forgetting when a key record cannot be removed at commit --------------------------------
my ($key2) = tenant_keys($side, 2);
(my $keys_dir = $key2) =~ s{/[^/]+$}{};
chmod 0555, $keys_dir or die;
my ($rc, $out, $warnings) = $node->psql('prod', "SELECT tenant_backup.backup_forget_tenant('2')");
chmod 0755, $keys_dir or die;
is($rc, 0, 'tenant 2 is forgotten');
like($warnings, qr/WARNING:  tenant_backup: could not remove a deleted archive or key record: .*\Q$keys_dir\E/,
	'the WARNING names the key record it could not remove');
like($warnings, qr/HINT:  tenant_backup.backup_sync\(\) removes them later/, 'and says what removes it');
ok(-e $key2, 'the key record is still there');
$sync = sq('prod', "SELECT string_agg(action || ' ' || ok, ',') FROM tenant_backup.backup_sync() WHERE action = 'remove_key'");
is($sync, 'remove_key true', 'backup_sync removes it');
ok(!-e $key2, 'it is gone');
is(scalar(tenant_keys($repo, 2)) + scalar(tenant_keys($side, 2)), 0, 'no key record of tenant 2 is left');

# --- Moving a file:// repository --------------------------------------------------------------
# A backup of tenant 5 stored in the side repository only.
my $side_only = sq('prod', "SET tenant_backup.repositories = 'side'; SELECT tenant_backup.backup_create('5')");
move($side, "$tmp/side_moved") or die "move: $!";
sq('prod', 'DELETE FROM notes WHERE tenant_id = 5');
like(err('prod', "SELECT count(*) FROM tenant_backup.backup_restore($side_only)"),
	qr/ERROR:  archive of backup $side_only is missing: \Q$side\E\/.*; nothing was restored/,
	'with the directory moved and the URL not changed, the backup cannot be read');
sq('prod', "SELECT tenant_backup.backup_repository_alter('side', url => 'file://$tmp/side_moved')");
is(sq('prod', "SELECT url FROM tenant_backup.backup_repositories() WHERE name = 'side'"), "file://$tmp/side_moved",
	'backup_repository_alter changes the URL');
sq('prod', "SELECT count(*) FROM tenant_backup.backup_restore($side_only)");
is(fingerprint('prod', 5), $before{5}, 'and the backup restores exactly from the moved directory');
like(sq('prod', "SELECT location FROM tenant_backup.backup_copies WHERE backup_id = $side_only AND repository = 'side'"),
	qr{^\Q$tmp\E/side_moved/}, 'its copy shows where it is now');
my ($rc2, $o2, $moved_warning) =
  $node->psql('prod', "SELECT tenant_backup.backup_repository_alter('side', url => 'file://$tmp/nowhere')");
like($moved_warning, qr/WARNING:  repository "side" does not hold its copies at the new URL/,
	'a URL without the copies is taken, with a WARNING');
sq('prod', "SELECT tenant_backup.backup_repository_alter('side', url => 'file://$tmp/side_moved')");

# --- S3: out of reach when forgetting, then moved to another prefix --------------------------
SKIP:
{
	skip 'TB_S3_HARNESS (a copy of test/s3) is not set', 8 unless $with_s3;
	my $keys_before = scalar(grep { m{/keys/} } bucket_keys('g058'));
	sq('prod', qq{SELECT tenant_backup.backup_repository_alter('offsite', options => '{"endpoint": "http://127.0.0.1:9", "region": "us-east-1", "path_style": true}')});
	like(sq('prod', "SELECT tenant_backup.backup_forget_tenant('3')"),
		qr/NOT REACHED, its wrapped keys may remain in repository offsite: /,
		'forgetting with an S3 endpoint that does not answer names the repository');
	is(scalar(grep { m{/keys/} } bucket_keys('g058')), $keys_before, "tenant 3's key record is still in the bucket");
	sq('prod', qq{SELECT tenant_backup.backup_repository_alter('offsite', options => '{$opts}')});
	is(sq('prod', "SELECT string_agg(action || ' ' || ok, ',') FROM tenant_backup.backup_sync() WHERE repository = 'offsite' AND action = 'remove_key'"),
		'remove_key true', 'with the endpoint back, backup_sync removes it');
	is(scalar(grep { m{/keys/} } bucket_keys('g058')), $keys_before - 1, 'it is gone from the bucket');

	# Every object moved from g058/ to m058/ (copied by GET and PUT, then deleted).
	my @objects = bucket_keys('g058');
	for my $k (@objects)
	{
		(my $to = $k) =~ s{^g058/}{m058/};
		system_or_bail("$curl -o '$tmp/object' '$endpoint/$bucket/$k'");
		system_or_bail("$curl -X PUT -T '$tmp/object' '$endpoint/$bucket/$to' -o /dev/null");
		system_or_bail("$curl -X DELETE '$endpoint/$bucket/$k' -o /dev/null");
	}
	is(scalar(bucket_keys('g058')), 0, 'the old prefix is empty');
	# Tenant 4's archive only in S3 now.
	unlink("$repo/$object{4}", "$tmp/side_moved/$object{4}") or die;
	sq('prod', 'DELETE FROM notes WHERE tenant_id = 4');
	my $id4 = $id{4};
	like(err('prod', "SELECT count(*) FROM tenant_backup.backup_restore($id4)"),
		qr/ERROR:  no copy of backup $id4 is usable; nothing was restored/,
		'before the URL is changed, the backup cannot be read');
	sq('prod', "SELECT tenant_backup.backup_repository_alter('offsite', url => 's3://$bucket/m058')");
	sq('prod', "SELECT count(*) FROM tenant_backup.backup_restore($id{4})");
	is(fingerprint('prod', 4), $before{4}, 'after it, the backup restores exactly from the moved prefix');
	is(sq('prod', "SELECT count(*) FROM tenant_backup.backup_sync() WHERE repository = 'offsite' AND NOT ok"), '0',
		'and the sync finds every copy there');
}

# --- The scheduler's periodic sync finishes a forget too --------------------------------------
$node->stop;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'tenant_backup'\ntenant_backup.scheduler_naptime = 1\ntenant_backup.sync_interval = 0\n");
$node->start;
my $moved = "$tmp/side_moved";
is(scalar(tenant_keys($moved, 5)), 1, "tenant 5's key record is in the side repository");
chmod 0000, $moved or die;
like(sq('prod', "SELECT tenant_backup.backup_forget_tenant('5')"), qr/NOT REACHED, its wrapped keys may remain in repository side: /,
	'tenant 5 is forgotten with the side repository out of reach');
chmod 0755, $moved or die;
is(scalar(tenant_keys($moved, 5)), 1, 'its key record is still there');
$node->append_conf('postgresql.conf', "tenant_backup.sync_interval = 1\n");
$node->reload;
# (The side repository's row: this restart gave the server no S3 credentials, so the offsite row waits.)
ok($node->poll_query_until('prod', "SELECT count(*) = 0 FROM tenant_backup.pending_key_removals WHERE repository = 'side'"),
	"the scheduler's sync worker finishes the removal, with nobody calling backup_sync()");
is(scalar(tenant_keys($moved, 5)), 0, 'the key record is gone');
# Staging's attached copy lies under prod's prefix: the sync lists that prefix too, and so never
# takes the copy for missing (and confirms it again) at every pass.
is(sq('staging', "SELECT count(*) FROM tenant_backup.backup_sync()"), '0',
	"staging's sync finds its attached copy where it is, and does nothing");

$node->stop;
done_testing();
