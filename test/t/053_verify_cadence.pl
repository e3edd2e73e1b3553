# Issue 20: the scheduler verifies each tenant's newest backup on a cadence (weekly by default, at
# a time spread by a hash of the tenant), every stored copy of it: a copy damaged on disk and one
# damaged in S3 (the Swift harness of t/011_s3.pl) are found at the next cadence pass, recorded
# missing (so that readers skip them), logged with the tenant, the backup, the copy and the cause,
# and audited; backup_sync() then stores them again from the healthy copies, and the pass after
# finds every copy intact. A tenant whose only copy is damaged counts as unprotected. The test
# clock (tenant_backup.scheduler_clock_offset) is moved past each tenant's time instead of waiting
# a week; tenant_backup.max_parallel_checks bounds the check workers running at once.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

use SwiftHarness;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my %s3 = %{ swift_start($ENV{TB_S3_TAP_PORT} // 18180) };
my ($endpoint, $bucket, $key, $secret) = @s3{qw(TB_S3_ENDPOINT TB_S3_BUCKET TB_S3_ACCESS_KEY TB_S3_SECRET)};

# Overwrites 16 bytes in the middle of a file (its size stays).
sub damage_file
{
	my ($path) = @_;
	my $size = -s $path;
	open(my $fh, '+<', $path) or die "open $path: $!";
	binmode $fh;
	seek($fh, int($size / 2), 0);
	print $fh 'XXXXXXXXXXXXXXXX';
	close $fh;
	return $size;
}

# The server's credentials come from its environment; the periodic sync is off, so that what the
# verification records is seen before anything repairs it; no drills on a cadence here (t/054).
$ENV{AWS_ACCESS_KEY_ID} = $key;
$ENV{AWS_SECRET_ACCESS_KEY} = $secret;
my $node = scheduler_node('verify_cadence',
	    "tenant_backup.unencrypted_backups = 'allow'\ntenant_backup.sync_interval = 0\n"
	  . "tenant_backup.drill_interval = 0\ntenant_backup.max_parallel_checks = 1\n");
delete $ENV{AWS_ACCESS_KEY_ID};
delete $ENV{AWS_SECRET_ACCESS_KEY};

my $opts = qq{"endpoint": "$endpoint", "region": "us-east-1", "path_style": true};
sql(qq{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, name text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, md5(g::text) FROM generate_series(1, 4) t, generate_series(1, 2000) g;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2'), ('3'), ('4');
SELECT tenant_backup.backup_repository_add('offsite', 's3://$bucket/cad', '{$opts}');
});
# Tenants 1 to 3 have a local and an S3 copy; tenant 4 only a local one. No schedule: these are
# manual backups, verified on the cadence all the same.
my %backup;
my ($b1, $b2, $b4);
for my $t (1 .. 3)
{
	$backup{$t} = sql("SET tenant_backup.repositories = 'local, offsite'; SELECT tenant_backup.backup_create('$t')");
}
$backup{4} = sql("SELECT tenant_backup.backup_create('4')");
($b1, $b2, $b4) = @backup{1, 2, 4};
is(sql("SELECT count(*) FROM tenant_backup.backup_copies WHERE state = 'stored'"), '7', 'seven stored copies');

# The scheduler gives every tenant with a completed backup its times (on reload, or within ten
# minutes), spread over the week by the tenant's hash.
$node->reload;
ok(wait_for("SELECT count(*) FROM tenant_backup.check_state WHERE next_verify_at IS NOT NULL AND next_drill_at IS NULL",
		'4'),
	'each tenant has a next verification (and, with drill_interval = 0, no drill)');
is( sql("SELECT bool_and(next_verify_at > now() AND next_verify_at <= now() + interval '7 days') "
		  . "FROM tenant_backup.check_state"),
	't', 'within the coming week');

# Damage: tenant 1's local copy on disk, tenant 2's copy in S3, tenant 4's only copy.
my $loc1 = sql("SELECT location FROM tenant_backup.backups WHERE id = $backup{1}");
damage_file($loc1);
my $object2 =
  sql("SELECT object_name FROM tenant_backup.backup_copies WHERE backup_id = $backup{2} AND repository = 'offsite'");
s3_curl("-o $tmp/object2", "cad/$object2");
my $size2 = damage_file("$tmp/object2");
is($size2, sql("SELECT size_bytes FROM tenant_backup.backups WHERE id = $backup{2}"), 'the S3 object was read back');
my $code = s3_curl("-o /dev/null -w '%{http_code}' -T $tmp/object2", "cad/$object2");
like($code, qr/^20/, 'and stored again damaged');
damage_file(sql("SELECT location FROM tenant_backup.backups WHERE id = $backup{4}"));

# The scheduler's clock moved past every tenant's time: all four are verified, one check worker
# at a time.
sub clock_past
{
	my ($epoch) = @_;
	my $offset = $epoch + 5 - time();
	$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $offset\n");
	$node->reload;
}
my $log_at = -s $node->logfile;
clock_past(sql("SELECT max(extract(epoch FROM next_verify_at))::bigint FROM tenant_backup.check_state"));
my $judged = "SELECT count(*) FROM tenant_backup.backup_copies WHERE verified_at IS NOT NULL OR state = 'missing'";
my $most = 0;
for (1 .. 600)
{
	my $running = sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_backup check'");
	$most = $running if $running > $most;
	last if sql($judged) eq '7';
	usleep(100_000);
}
is(sql($judged), '7', 'the next cadence pass judged every copy of every tenant\'s newest backup');
ok($most <= 1, "at most tenant_backup.max_parallel_checks = 1 check worker at once (seen: $most)");

is( sql("SELECT string_agg(b.tenant || ':' || c.repository || ':' || c.state, ' ' ORDER BY b.tenant, c.repository) "
		  . "FROM tenant_backup.backup_copies c JOIN tenant_backup.backups b ON b.id = c.backup_id"),
	'1:local:missing 1:offsite:stored 2:local:stored 2:offsite:missing 3:local:stored 3:offsite:stored 4:local:missing',
	'the copy damaged on disk and the one damaged in S3 are recorded missing, the others verified');
like(sql("SELECT error FROM tenant_backup.backup_copies WHERE backup_id = $backup{1} AND repository = 'local'"),
	qr/^verification: archive of backup $b1 failed its SHA-256 check/, 'with the cause (disk)');
like(sql("SELECT error FROM tenant_backup.backup_copies WHERE backup_id = $backup{2} AND repository = 'offsite'"),
	qr/^verification: archive of backup $b2 failed its SHA-256 check/, 'with the cause (S3)');
is( sql("SELECT string_agg(tenant || ':' || coalesce(last_verify_ok::text, '-') || ':' || unprotected, ' ' "
		  . "ORDER BY tenant) FROM tenant_backup.backup_status"),
	'1:true:false 2:true:false 3:true:false 4:false:true',
	'a tenant with a healthy copy left is protected; one whose only copy is damaged is not');
like(sql("SELECT verify_error FROM tenant_backup.backups WHERE id = $backup{4}"),
	qr/^local: archive of backup $b4 failed its SHA-256 check/, 'and its backup says why');
is( sql("SELECT string_agg(tenant || ':' || outcome, ' ' ORDER BY tenant) FROM tenant_backup.backup_audit "
		  . "WHERE action = 'verify'"),
	'1:failed 2:failed 3:ok 4:failed',
	'each verification is audited');
like(sql("SELECT error FROM tenant_backup.backup_audit WHERE action = 'verify' AND tenant = '2'"),
	qr/^scheduled: offsite: archive of backup $b2 failed its SHA-256 check/, 'naming the copy and the cause');
my $log = slurp_file($node->logfile, $log_at);
like($log,
	qr/WARNING:  tenant_backup: the copy of backup $b1 of tenant "1" in repository "local" failed its verification: archive of backup $b1 failed its SHA-256 check/,
	'the damaged local copy is logged with the tenant, the backup, the copy and the cause');
like($log,
	qr/WARNING:  tenant_backup: the copy of backup $b2 of tenant "2" in repository "offsite" failed its verification/,
	'so is the damaged S3 copy');
like($log, qr/WARNING:  tenant_backup: backup $b4 of tenant "4" failed its verification: no copy is intact/,
	'and the backup with no intact copy');
is( sql("SELECT bool_and(next_verify_at > now() + "
		  . "current_setting('tenant_backup.scheduler_clock_offset')::interval) FROM tenant_backup.check_state"),
	't', 'each tenant\'s next verification is after the scheduler\'s clock');

# The repair stores both copies again from the healthy ones; tenant 4's has none to come from.
sql("CREATE TABLE sync1 AS SELECT * FROM tenant_backup.backup_sync()");
is( sql("SELECT string_agg(backup_id || ':' || repository || ':' || ok, ' ' ORDER BY backup_id) FROM sync1 "
		  . "WHERE action = 'store_copy'"),
	"$backup{1}:local:true $backup{2}:offsite:true $backup{4}:local:false",
	'backup_sync() stores the damaged copies again from healthy ones');
is( sql("SELECT count(*) FROM tenant_backup.backup_copies WHERE state = 'stored'"),
	'6', 'six copies are stored again');

# The pass a week later finds every repaired copy intact.
sql("UPDATE tenant_backup.backup_copies SET verified_at = NULL");
my $audited = sql("SELECT max(id) FROM tenant_backup.backup_audit");
clock_past(sql("SELECT max(extract(epoch FROM next_verify_at))::bigint FROM tenant_backup.check_state"));
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_copies WHERE verified_at IS NOT NULL", '6'),
	'the next pass verifies every stored copy, the repaired ones too');
is(sql("SELECT count(*) FROM tenant_backup.backup_copies WHERE state = 'missing'"),
	'1', 'only tenant 4\'s copy, which had no healthy source, is missing');
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'verify' AND id > $audited", '4'),
	'four more verifications audited');
is( sql("SELECT string_agg(tenant || ':' || outcome, ' ' ORDER BY tenant) FROM tenant_backup.backup_audit "
		  . "WHERE action = 'verify' AND id > $audited"),
	'1:ok 2:ok 3:ok 4:failed', 'ok, but for the backup without a stored copy');

$node->stop;
done_testing();
