# Citus (issue 15): encryption, verify, download, import, S3 copies (a throwaway Swift with its S3
# API, as in 011_s3.pl), permissions and audit, each once on tables distributed by the tenant
# column, from the coordinator where the catalog lives; every restore is checked shard by shard
# on the workers. One cluster of a coordinator and two workers. Skipped with a clear line when
# Citus is not installed (and when TB_S3_HARNESS is not set).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CitusCluster;

use SwiftHarness;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my %s3 = %{ swift_start($ENV{TB_S3_TAP_PORT} // 18180) };
# The driver's credentials come from the coordinator's environment, as in 011_s3.pl.
$ENV{AWS_ACCESS_KEY_ID} = $s3{TB_S3_ACCESS_KEY};
$ENV{AWS_SECRET_ACCESS_KEY} = $s3{TB_S3_SECRET};
my @nodes = citus_cluster(coordinator_conf =>
	  "tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'\n");
my ($coordinator, @workers) = @nodes;
sub sql { return $coordinator->safe_psql('postgres', $_[0]); }
sub psql_as
{
	my ($role, $query) = @_;
	my ($rc, $out, $err) = $coordinator->psql('postgres', $query, extra_params => [ '-U', $role ]);
	return ($out, $err);
}

delete $ENV{AWS_ACCESS_KEY_ID};
delete $ENV{AWS_SECRET_ACCESS_KEY};

citus_test_schema($coordinator, clicks => 3000);
sql(q{
CREATE ROLE reader LOGIN;
GRANT SELECT ON ads, clicks TO reader;
SELECT tenant_backup.backup_grant('reader', 'backup.download', '7');
SELECT tenant_backup.backup_grant('reader', 'backup.view', '7');
});
sub digests { return join ' | ', map { citus_shard_digests($coordinator, $_, $_[0]) } 'ads', 'clicks'; }
sub damage { sql("DELETE FROM clicks WHERE tenant_id = 7 AND id % 3 = 0; UPDATE ads SET title = 'changed' WHERE tenant_id = 7"); }
sub restored { return sql("SELECT string_agg(table_name || ' ' || rows_restored, ', ' ORDER BY table_name) FROM tenant_backup.backup_restore($_[0])"); }
my $tenant7 = digests('tenant_id = 7');
my $others = digests('tenant_id <> 7');

# S3 copies: a backup in the local directory and in the bucket.
my $opts = qq{{"endpoint": "$s3{TB_S3_ENDPOINT}", "region": "us-east-1", "path_style": true}};
sql(qq{SELECT tenant_backup.backup_repository_add('offsite', 's3://$s3{TB_S3_BUCKET}/citus', '$opts')});
my $bid = sql("SET tenant_backup.repositories = 'local, offsite'; SELECT tenant_backup.backup_create('7')");
is(sql("SELECT encrypted || ':' || row_count FROM tenant_backup.backups WHERE id = $bid"), 'true:3050',
	"the tenant's distributed rows are backed up, encrypted");
is(sql("SELECT string_agg(repository || ':' || state, ' ' ORDER BY repository) FROM tenant_backup.backup_copies WHERE backup_id = $bid"),
	'local:stored offsite:stored', 'with a copy in S3');
is(sql("SELECT ok || ':' || tables || ':' || rows FROM tenant_backup.backup_verify($bid)"), 'true:2:3050', 'backup_verify checks it');

# Restore from the S3 copy once the local one is gone, through Citus.
damage();
my $location = sql("SELECT location FROM tenant_backup.backups WHERE id = $bid");
unlink $location or die "unlink $location: $!";
is(restored($bid), 'public.ads 50, public.clicks 3000', 'restored from the S3 copy when the local file is gone');
is(digests('tenant_id = 7'), $tenant7, 'exactly, shard by shard');
is(digests('tenant_id <> 7'), $others, 'other tenants untouched');

# Download (as the reader, who may) and import the document as a new backup, which restores.
my $file = "$tmp/tenant7.json";
PostgreSQL::Test::Utils::system_or_bail('psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-U', 'reader', '-d',
	$coordinator->connstr('postgres'), '-c', "SELECT * FROM tenant_backup.backup_download($bid)", '-o', $file);
like(slurp_file($file), qr/"tenant" : "7"/, 'the reader downloads the backup as a JSON document');
my $imported = sql(qq{
\\lo_import '$file'
SELECT tenant_backup.backup_import_large_object(:LASTOID) AS imported \\gset
SELECT lo_unlink(:LASTOID) \\gset
SELECT :imported;
});
damage();
is(restored($imported), 'public.ads 50, public.clicks 3000', 'the imported backup restores');
is(digests('tenant_id = 7'), $tenant7, 'the tenant exactly, shard by shard');

# Permissions: the reader may neither restore nor create; each refusal is audited, as is the download.
my (undef, $err) = psql_as('reader', "SELECT * FROM tenant_backup.backup_restore($bid)");
like($err, qr/permission denied/, 'the reader may not restore');
(undef, $err) = psql_as('reader', "SELECT tenant_backup.backup_create('7')");
like($err, qr/permission denied/, 'nor create a backup');
is(digests('tenant_id = 7'), $tenant7, 'nothing changed');
is(sql(q{SELECT string_agg(action || ':' || outcome, ' ' ORDER BY id) FROM tenant_backup.backup_audit WHERE current_user_name = 'reader'}),
	'download:ok restore:denied create:denied', "the reader's download and refusals are audited");
is(sql(q{SELECT string_agg(action || ':' || outcome, ' ' ORDER BY id) FROM tenant_backup.backup_audit
  WHERE current_user_name = 'postgres' AND action IN ('create', 'restore', 'import')}),
	'create:ok create:ok restore:ok import:ok create:ok restore:ok',
	'and the superuser\'s backups, import and restores, each restore with the create of its pre_restore backup');

$_->stop for reverse @nodes;
done_testing();
