# Citus (issue 15): the scheduler runs on the coordinator (tenant_backup preloaded there after
# citus) and takes the nightly backups of tenants whose rows are on either worker; with
# max_parallel = 2, the backups of two tenants on different workers run at the same time (shown by
# both waiting inside their backups, each on its own worker, at once — never by timing). One
# cluster of a coordinator and two workers; the scheduler's test clock as in the other scheduler
# tests. Skipped with a clear line when Citus is not installed.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CitusCluster;
use SchedulerTestClock;

my @nodes = citus_cluster(coordinator_conf => q{
shared_preload_libraries = 'citus, tenant_backup'
tenant_backup.databases = 'postgres'
tenant_backup.scheduler_naptime = 1
tenant_backup.retry_interval = 2
tenant_backup.tenant_registry = 'public.registry'
tenant_backup.max_parallel = 2
});
my ($coordinator, @workers) = @nodes;
use_node($coordinator);

citus_test_schema($coordinator, ads => '20 + t', clicks => 100, referenced => 20);
sql(q{
CREATE TABLE registry (tenant_id text PRIMARY KEY); -- a plain table of the coordinator, in every backup too
});

# Two tenants on each worker.
my %on;
push @{ $on{ citus_worker_port($coordinator, 'ads', $_) } }, $_ for 1 .. 10;
my @ports = map { $_->port } @workers;
my @tenants = map { @{ $on{$_} }[0, 1] } @ports;
is(scalar(grep { defined } @tenants), 4, 'two tenants on each worker: ' . join(' ', @tenants));
sql("INSERT INTO registry VALUES " . join(', ', map { "('$_')" } @tenants));

my $autos = "SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'";
set_clock(0, 1, 59, 57);
sql("SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', keep_last => 3)");
ok(wait_for($autos, '4'), 'the 02:00 run on the coordinator backed up the four tenants');
is(sql("SELECT string_agg(tenant || ':' || row_count, ' ' ORDER BY tenant::int) FROM tenant_backup.backups WHERE kind = 'auto'"),
	join(' ', map { "$_:" . (20 + $_ + 100 + 1) } sort { $a <=> $b } @tenants),
	"each backup holds its tenant's rows, read on the tenant's worker");
is(sql("SELECT string_agg(tenant || ':' || scheduled || ':' || consecutive_failures, ' ' ORDER BY tenant::int) FROM tenant_backup.backup_status"),
	join(' ', map { "$_:true:0" } sort { $a <=> $b } @tenants), 'backup_status: every tenant protected');

# Night 2: a lock on each worker's shards makes the jobs wait inside their backups, on their
# workers; one tenant per worker is scheduled.
sql("DELETE FROM registry WHERE tenant_id NOT IN ('$on{$ports[0]}[0]', '$on{$ports[1]}[0]')");
my (@lockers, @waiting);
for my $w (@workers)
{
	my $shards = sql("SELECT string_agg('ads_' || shardid, ', ') FROM pg_dist_shard JOIN pg_dist_placement USING (shardid) "
		  . "JOIN pg_dist_node USING (groupid) WHERE logicalrelid = 'ads'::regclass AND nodeport = " . $w->port);
	my $l = $w->background_psql('postgres');
	$l->query_safe("SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE $shards IN ACCESS EXCLUSIVE MODE");
	push @lockers, $l;
	my $list = join ', ', map { "'$_'::regclass" } split /, /, $shards;
	push @waiting, "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation IN ($list)";
}
my $max = sql('SELECT max(id) FROM tenant_backup.backups');
set_clock(1, 1, 59, 57);
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_progress", '2'), 'two scheduled backups are running');
ok($workers[0]->poll_query_until('postgres', "SELECT ($waiting[0]) = 1") && $workers[1]->poll_query_until('postgres', "SELECT ($waiting[1]) = 1"),
	'each waits inside its backup on its own worker');
is(join(',', map { $workers[$_]->safe_psql('postgres', $waiting[$_]) } 0, 1), '1,1', 'both at the same time');
is(sql("SELECT string_agg(tenant, ',' ORDER BY tenant::int) FROM tenant_backup.backup_progress"),
	join(',', sort { $a <=> $b } ($on{ $ports[0] }[0], $on{ $ports[1] }[0])), "the running jobs are the two workers' tenants");
$_->query_safe('ROLLBACK') for @lockers;
$_->quit for @lockers;
ok(wait_for("SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed' AND id > $max", '2'),
	'once the locks are gone, both complete');
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE status <> 'completed'"), '0', 'nothing failed');

$_->stop for reverse @nodes;
done_testing();
