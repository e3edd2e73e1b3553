# Backups that outlive their database, from S3 (issue 18), against the Swift harness of 011: the
# backups of several tenants, encrypted, stored in the local repository and in S3; a staging
# database that registers production's bucket read-only, attaches it and restores a tenant, while
# no object of production is ever written or removed (delete, retention, sync, forget, a backup
# pointed at it); then production is dropped with its local repository, and a new database with
# the same schema and master key restores every tenant exactly from S3 alone.
use strict;
use warnings FATAL => 'all';

use File::Path qw(rmtree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SwiftHarness;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my %s3 = %{ swift_start($ENV{TB_S3_TAP_PORT} // 18180) };
my ($endpoint, $bucket, $key, $secret) = @s3{qw(TB_S3_ENDPOINT TB_S3_BUCKET TB_S3_ACCESS_KEY TB_S3_SECRET)};

# Every object under prod/ with its size and ETag, seen through curl, independently of our driver.
sub bucket_listing
{
	my $out = s3_request('', '?prefix=prod');
	my @objects;
	while ($out =~ m{<Contents>(.*?)</Contents>}gs)
	{
		my $c = $1;
		my ($k) = $c =~ m{<Key>(.*?)</Key>};
		my ($e) = $c =~ m{<ETag>(.*?)</ETag>};
		my ($s) = $c =~ m{<Size>(.*?)</Size>};
		push @objects, "$k $s $e";
	}
	return join("\n", sort @objects);
}

my $key_file = "$tmp/master.key";
open my $kf, '>', $key_file or die;
print $kf "4444444444444444444444444444444444444444444444444444444444444444\n";
close $kf;
chmod 0600, $key_file;
my $repo = "$tmp/repo";

$ENV{AWS_ACCESS_KEY_ID} = $key;
$ENV{AWS_SECRET_ACCESS_KEY} = $secret;
my $node = PostgreSQL::Test::Cluster->new('attach_s3');
$node->init;
$node->append_conf('postgresql.conf', "tenant_backup.repository = '$repo'\n");
$node->append_conf('postgresql.conf', "tenant_backup.encryption_key_file = '$key_file'\n");
$node->start;
delete $ENV{AWS_ACCESS_KEY_ID};
delete $ENV{AWS_SECRET_ACCESS_KEY};

sub sq { my ($db, $sql) = @_; return $node->safe_psql($db, $sql); }
sub err { my ($db, $sql) = @_; my ($rc, $out, $e) = $node->psql($db, $sql); return $e; }

my $schema = q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int PRIMARY KEY, name text, price numeric(10, 2));
CREATE INDEX ON items (tenant_id);
};
sub fingerprint
{
	my ($db, $t) = @_;
	return sq($db, "SELECT count(*) || ':' || md5(string_agg(id || '/' || name || '/' || price, ',' ORDER BY id)) "
		  . "FROM items WHERE tenant_id = $t");
}
my $opts = qq{"endpoint": "$endpoint", "region": "us-east-1", "path_style": true};

$node->safe_psql('postgres', 'CREATE DATABASE prod');
sq('prod', $schema . q{
INSERT INTO items SELECT 1 + g % 4, g, 'item ' || g, g * 0.5 FROM generate_series(1, 4000) g;
});
sq('prod', qq{SELECT tenant_backup.backup_repository_add('offsite', 's3://$bucket/prod', '{$opts}')});
my %before = map { $_ => fingerprint('prod', $_) } 1 .. 4;
for my $t (1 .. 4)
{
	sq('prod', "SET tenant_backup.repositories = 'local, offsite'; SELECT tenant_backup.backup_create('$t')");
}
is(sq('prod', "SELECT count(*) FROM tenant_backup.backup_copies WHERE state = 'stored' AND repository = 'offsite'"),
	'4', 'four encrypted backups, each with a copy in S3');
my $listing = bucket_listing();
is(scalar(() = $listing =~ /\.tbk\.record /g), 4, 'a record beside every archive in the bucket');
is(scalar(() = $listing =~ m{/keys/}g), 4, 'and every tenant key');

# --- Staging: production's bucket, read-only -------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE staging');
sq('staging', $schema);
sq('staging',
	qq{SELECT tenant_backup.backup_repository_add('prod', 's3://$bucket/prod', '{$opts, "read_only": true}')});
is(sq('staging', "SELECT string_agg(state, ',') FROM tenant_backup.backup_repository_scan('prod')"),
	'unknown,unknown,unknown,unknown', 'staging finds production\'s four backups');
is(sq('staging', "SELECT count(*) FROM tenant_backup.backup_attach('prod', source_database => 'elsewhere')"),
	'0', 'attach takes only the backups of the source database it is given');
like(sq('staging', "SELECT DISTINCT source FROM tenant_backup.backup_repository_scan('prod')"),
	qr{^database prod \(\d+/\d+/, catalog [0-9a-f-]{36}\)$}, 'the scan says which database took them');
is(sq('staging', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('prod', tenant => '2', source_database => 'prod')"),
	'attached', 'and attaches one tenant\'s');
my $staged = sq('staging', "SELECT id FROM tenant_backup.backups WHERE tenant = '2'");
sq('staging', "SELECT count(*) FROM tenant_backup.backup_restore($staged)");
is(fingerprint('staging', 2), $before{2}, 'staging restores the tenant exactly');
sq('staging', "SELECT count(*) FROM tenant_backup.backup_attach('prod')");

# Nothing staging does writes or removes an object of production.
like(err('staging', "SET tenant_backup.repositories = 'prod'; SELECT tenant_backup.backup_create('2')"),
	qr/repository "prod" is registered read-only/, 'a backup into the read-only repository is refused');
sq('staging', 'SELECT count(*) FROM tenant_backup.backup_sync()');
like(err('staging', "SELECT tenant_backup.backup_delete($staged)"), qr/is left in place: the repository is registered read-only/,
	'deleting an attached backup leaves production\'s archive in place');
like(sq('staging', "SELECT tenant_backup.backup_forget_tenant('3')"),
	qr/NOT REACHED.*repository prod: registered read-only in this database, not changed/, 'forgetting a tenant says it left production\'s keys alone');
sq('staging', 'SELECT count(*) FROM tenant_backup.backup_sync()');
is(bucket_listing(), $listing, 'no object of production was written or removed');

# --- Production is lost, local repository and all ---------------------------------------------
$node->safe_psql('postgres', 'DROP DATABASE prod');
rmtree($repo);
$node->safe_psql('postgres', 'CREATE DATABASE dr');
sq('dr', $schema);
sq('dr', qq{SELECT tenant_backup.backup_repository_add('offsite', 's3://$bucket/prod', '{$opts}')});
is(sq('dr', "SELECT string_agg(outcome, ',') FROM tenant_backup.backup_attach('offsite')"),
	'attached,attached,attached,attached', 'a new database attaches every backup from S3');
for my $t (1 .. 4)
{
	my $id = sq('dr', "SELECT id FROM tenant_backup.backups WHERE tenant = '$t'");
	sq('dr', "SELECT count(*) FROM tenant_backup.backup_restore($id)");
	is(fingerprint('dr', $t), $before{$t}, "tenant $t is restored exactly from S3");
}

# A forgotten tenant: its keys are gone from the bucket, so what remains of it is reported unreadable.
sq('dr', "SELECT tenant_backup.backup_forget_tenant('4')");
is(scalar(() = bucket_listing() =~ m{/keys/}g), 3, 'forgetting tenant 4 removed its key from S3');

done_testing();
