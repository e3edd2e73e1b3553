# Backups that outlive their database (issue 18, continued):
# - master key rotation re-seals every writable repository: after backup_rotate_master_key() the
#   records, tombstones and key records are sealed (and the keys wrapped) under the new key; a
#   repository out of reach during the rotation is finished by backup_sync(); then the old key is
#   removed from the key file, the database dropped, and a new one attaches and restores everything;
# - tombstones: the archive and record of a deleted backup, or of a forgotten tenant, put back into
#   the repository, are reported deleted / forgotten and refused by attach (unless allow_deleted);
#   deleting the tombstones too (an attacker who can delete objects) defeats it, as documented;
# - DROP OWNED BY the extension's owner is refused as DROP EXTENSION is.
use strict;
use warnings FATAL => 'all';

use File::Copy qw(copy);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use RepositoryTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $repo = "$tmp/repo";
my $offsite = "$tmp/offsite";
mkdir $offsite or die;
my $key_file = "$tmp/master.key";
my $old_key = '5555555555555555555555555555555555555555555555555555555555555555';
my $new_key = '6666666666666666666666666666666666666666666666666666666666666666';
sub keys_are { write_key_file($key_file, @_); }
keys_are($old_key);

my $node = repository_node('rotation', $repo, $key_file);
my $schema = accounts_schema();
my $data = accounts_data(3, 2000, 'y', 13);

sub psql_stderr { my ($db, $sql) = @_; my ($out, $e) = ('', ''); $node->psql($db, $sql, stdout => \$out, stderr => \$e); return $e; }

# The master key id named by each record's authentication line, counted: "id:count,...".
sub sealed_by
{
	my ($dir, $re) = @_;
	my %n;
	for my $f (files_under($dir, $re))
	{
		my ($id) = slurp_file($f) =~ /\nhmac-sha256 ([0-9a-f]{16}) [0-9a-f]{64}\n\z/;
		$n{ $id // 'none' }++;
	}
	return join(',', map { "$_:$n{$_}" } sort keys %n);
}

$node->safe_psql('postgres', 'CREATE DATABASE prod');
sq('prod', $schema . $data);
sq('prod', "SELECT tenant_backup.backup_repository_add('offsite', 'file://$offsite')");
my %before = map { $_ => fingerprint('prod', $_) } 1 .. 3;
for my $t (1 .. 3)
{
	sq('prod', "SET tenant_backup.repositories = 'local, offsite'; SELECT tenant_backup.backup_create('$t')");
}
is(sq('prod', "SELECT count(*) FROM tenant_backup.backup_copies WHERE state = 'stored'"), '6',
	'three backups, each stored locally and off-site');
my $old_id = sq('prod', 'SELECT DISTINCT master_key_id FROM tenant_backup.tenant_keys');
like($old_id, qr/^[0-9a-f]{16}$/, 'the keys are wrapped under the old master key');
is(sealed_by($repo, qr/\.(record|key)$/), "$old_id:6", 'every record and key record is sealed under it');

# --- Rotation, the off-site repository out of reach --------------------------------------------
keys_are($new_key, $old_key);
chmod 0000, $offsite;
my $rotation = psql_stderr('prod', 'SELECT tenant_backup.backup_rotate_master_key()');
chmod 0700, $offsite;
like($rotation, qr/3 data key\(s\) re-wrapped; 3 record\(s\) re-sealed and 3 key record\(s\) re-wrapped in 2 repository\(ies\)/,
	'rotation re-wraps the catalog and re-seals the local repository');
like($rotation, qr/WARNING:.*repository offsite: .* is not re-sealed under the new master key yet/,
	'and says which repository it could not finish');
my $new_id = sq('prod', 'SELECT DISTINCT master_key_id FROM tenant_backup.tenant_keys');
isnt($new_id, $old_id, 'the catalog is under the new key');
is(sealed_by($repo, qr/\.(record|key)$/), "$new_id:6", 'every local record and key record is sealed under the new key');
is(count_files($repo, qr/-\Q$old_id\E\.key$/), 0, 'no local key record is named for the old key any more');
is(count_files($repo, qr/-\Q$new_id\E\.key$/), 3, 'each key has its record named for the new one');
unlike(join('', map { slurp_file($_) } files_under($repo, qr/\.key$/)), qr/"master_key_id": "\Q$old_id\E"/,
	'and wrapped under it');
is(sealed_by($offsite, qr/\.(record|key)$/), "$old_id:6", 'the off-site repository is still under the old key');
is(sq('prod', "SELECT repository || ' ' || (finished_at IS NOT NULL) FROM tenant_backup.repository_reseal ORDER BY 1"),
	"local true\noffsite false", 'its pass is recorded unfinished');
# Meanwhile, both keys listed, every record opens.
is(sq('prod', "SELECT string_agg(state || '/' || authenticated, ',') FROM tenant_backup.backup_repository_scan('offsite')"),
	'known/true,known/true,known/true', 'with both keys listed, the half-done repository scans clean');

# backup_sync() goes on with the unfinished pass.
is(sq('prod', "SELECT string_agg(action, ',' ORDER BY action) FROM tenant_backup.backup_sync() WHERE action IN ('reseal_record', 'rewrap_key') AND ok"),
	'reseal_record,reseal_record,reseal_record,rewrap_key,rewrap_key,rewrap_key', 'backup_sync() finishes the off-site pass');
is(sealed_by($offsite, qr/\.(record|key)$/), "$new_id:6", 'the off-site repository is under the new key');
is(sq('prod', "SELECT count(*) FROM tenant_backup.repository_reseal WHERE finished_at IS NULL"), '0', 'every pass is finished');
is(sq('prod', "SELECT count(*) FROM tenant_backup.backup_sync() WHERE action IN ('reseal_record', 'rewrap_key')"), '0',
	'and the next sync has nothing left to re-seal');
like(psql_stderr('prod', 'SELECT tenant_backup.backup_rotate_master_key()'),
	qr/0 data key\(s\) re-wrapped; 0 record\(s\) re-sealed and 0 key record\(s\) re-wrapped in 2 repository\(ies\)/,
	'rotating again (a re-run) finds nothing left');

# --- The old key goes; the database is lost ------------------------------------------------------
keys_are($new_key);
is(sq('prod', "SELECT string_agg(state || '/' || authenticated, ',') FROM tenant_backup.backup_repository_scan('local')"),
	'known/true,known/true,known/true', 'without the old key, every record still authenticates');
$node->safe_psql('postgres', 'DROP DATABASE prod');
$node->safe_psql('postgres', 'CREATE DATABASE rebuilt');
sq('rebuilt', $schema);
is(sq('rebuilt', "SELECT string_agg(state, ',') FROM tenant_backup.backup_repository_scan('local')"),
	'unknown,unknown,unknown', 'a new database, with the new key only, finds every backup');
is(sq('rebuilt', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('local')"),
	'attached,attached,attached', 'and attaches them');
for my $t (1 .. 3)
{
	my $id = sq('rebuilt', "SELECT id FROM tenant_backup.backups WHERE tenant = '$t'");
	sq('rebuilt', "SELECT * FROM tenant_backup.backup_restore($id)");
	is(fingerprint('rebuilt', $t), $before{$t}, "tenant $t is restored exactly, after the rotation");
}
sq('rebuilt', "SELECT tenant_backup.backup_repository_add('offsite', 'file://$offsite')");
is(sq('rebuilt', "SELECT string_agg(state, ',') FROM tenant_backup.backup_repository_scan('offsite')"),
	'known,known,known', 'the off-site copies, re-sealed by the sync, scan as the same backups');

# --- Tombstones: a deleted backup put back --------------------------------------------------------
my $doomed = sq('rebuilt', "SELECT tenant_backup.backup_create('2', 'doomed')");
my $object = sq('rebuilt', "SELECT object_name FROM tenant_backup.backups WHERE id = $doomed");
my ($archive, $record) = (slurp_file("$repo/$object"), slurp_file("$repo/$object.record"));
sq('rebuilt', "SELECT tenant_backup.backup_delete($doomed)");
ok(!-e "$repo/$object" && !-e "$repo/$object.record", 'backup_delete removes the archive and its record');
like(slurp_file("$repo/$object.tombstone"), qr/"of": "backup".*\nhmac-sha256 \Q$new_id\E [0-9a-f]{64}\n\z/s,
	'and leaves an authenticated tombstone beside them');
rewrite("$repo/$object", $archive);
rewrite("$repo/$object.record", $record);
like(sq('rebuilt', "SELECT state || ': ' || detail FROM tenant_backup.backup_repository_scan('local') WHERE object_name = '$object'"),
	qr/^deleted: the backup was deleted \(backup_delete\) at .* in database rebuilt/,
	'the archive and record put back scan as deleted');
like(sq('rebuilt', "SELECT outcome || ': ' || detail FROM tenant_backup.backup_attach('local', object_name => '$object')"),
	qr/^refused: the backup was deleted .*allow_deleted => true/, 'attach refuses it');
my $back = sq('rebuilt', "SELECT backup_id FROM tenant_backup.backup_attach('local', object_name => '$object', allow_deleted => true) WHERE outcome = 'attached'");
like($back, qr/^\d+$/, 'unless told it may');
sq('rebuilt', "SELECT * FROM tenant_backup.backup_restore($back)");
is(fingerprint('rebuilt', 2), $before{2}, 'and what it attached then restores');

# --- Tombstones: a forgotten tenant put back ------------------------------------------------------
sq('rebuilt', "SELECT tenant_backup.backup_create('3', 'own')");
system_or_bail('cp', '-a', $repo, "$tmp/saved");
like(sq('rebuilt', "SELECT tenant_backup.backup_forget_tenant('3')"), qr/forgotten: 2 backup\(s\) deleted/,
	'tenant 3 is forgotten');
my @tenant_tombstones = files_under($repo, qr{/tombstones/[0-9a-f]{64}-[0-9a-f]{16}\.tombstone$});
is(scalar(@tenant_tombstones), 2, "a tenant tombstone under this database's prefix and under prod's");
# Everything of tenant 3 put back: archives, records, key records.
system_or_bail('cp', '-a', "$tmp/saved/.", $repo);
is(sq('rebuilt', "SELECT string_agg(state, ',') FROM tenant_backup.backup_repository_scan('local') WHERE tenant = '3'"),
	'forgotten,forgotten', "the tenant's archives put back, keys and all, scan as forgotten");
like(sq('rebuilt', "SELECT min(detail) FROM tenant_backup.backup_repository_scan('local') WHERE tenant = '3'"),
	qr/^tenant "3" was forgotten at .*, after this backup was taken; attach refuses it/, 'saying why');
is(sq('rebuilt', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('local', tenant => '3', source_database => '*')"),
	'refused,refused', 'attach refuses them');
# A backup taken after the forget is not covered.
my $after = sq('rebuilt', "SELECT tenant_backup.backup_create('3', 'after')");
$node->safe_psql('postgres', 'CREATE DATABASE witness');
sq('witness', $schema);
is(sq('witness', "SELECT string_agg(state, ',' ORDER BY state) FROM tenant_backup.backup_repository_scan('local') WHERE tenant = '3'"),
	'forgotten,forgotten,unknown', 'a backup of the tenant taken after the forget is attachable (seen from another database)');
# The documented limit: whoever can delete objects can delete tombstones.
unlink @tenant_tombstones;
is(sq('witness', "SELECT string_agg(state, ',' ORDER BY state) FROM tenant_backup.backup_repository_scan('local') WHERE tenant = '3'"),
	'deleted,deleted,unknown', 'without the tenant tombstones, each backup tombstone still says deleted');
unlink files_under($repo, qr/\.tbk\.tombstone$/);
is(sq('witness', "SELECT string_agg(state, ',' ORDER BY state) FROM tenant_backup.backup_repository_scan('local') WHERE tenant = '3'"),
	'unknown,unknown,unknown', 'without any tombstone, they are attachable again (docs/FORMAT.md says so)');

# --- DROP OWNED BY the extension's owner ----------------------------------------------------------
$node->safe_psql('postgres', 'CREATE ROLE ext_owner SUPERUSER LOGIN; CREATE ROLE bystander');
$node->safe_psql('postgres', 'CREATE DATABASE owned OWNER ext_owner');
$node->safe_psql('owned', $schema . $data, extra_params => [ '-U', 'ext_owner' ]);
$node->safe_psql('owned', "SELECT tenant_backup.backup_create('1')", extra_params => [ '-U', 'ext_owner' ]);
like(err('owned', 'DROP OWNED BY ext_owner'),
	qr/DROP OWNED BY ext_owner would drop extension tenant_backup .* and destroy the catalog of 1 backup\(s\)/,
	'DROP OWNED BY the extension owner is refused, saying what it would destroy');
like(err('owned', 'DROP OWNED BY bystander, ext_owner CASCADE'), qr/would drop extension tenant_backup/,
	'also among other roles, with CASCADE');
is(sq('owned', "SELECT count(*) FROM pg_extension WHERE extname = 'tenant_backup'"), '1', 'the extension is still there');
sq('owned', 'DROP OWNED BY bystander');
is(sq('owned', "SELECT count(*) FROM pg_extension WHERE extname = 'tenant_backup'"), '1',
	'DROP OWNED BY a role owning nothing of ours runs');
sq('owned', 'SET tenant_backup.drop_confirmed = on; DROP OWNED BY ext_owner');
is(sq('owned', "SELECT count(*) FROM pg_extension WHERE extname = 'tenant_backup'"), '0',
	'with the confirmation, DROP OWNED drops it');

done_testing();
