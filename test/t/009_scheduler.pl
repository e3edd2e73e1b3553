# Scheduled backups run by the background workers, with a test clock
# (tenant_backup.scheduler_clock_offset) instead of waiting for 02:00:
#   - the extension is created after the server started; scheduled runs happen;
#   - SIGHUP (reload) picks up new settings (the clock; a second database);
#   - retention keeps keep_last automatic backups and never the manual one;
#   - a failing tenant is retried with backoff and does not stop the others;
#   - a job killed mid-backup by a crash leaves a failed row and no stray file, and is retried;
#   - a terminated job worker is recorded as failed and retried; so is one killed with SIGKILL,
#     after which the postmaster reinitializes and the scheduler comes back;
#   - runs missed while the server was down happen once after start-up;
#   - backup_progress shows running jobs.
use strict;
use warnings FATAL => 'all';

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('scheduler', "restart_after_crash = on\n");
my $repo = $node->data_dir . '/pg_tenant_backup';

sub repo_files
{
	my @files;
	return () unless -d $repo;
	find(sub { push @files, substr($File::Find::name, length($repo) + 1) if -f $_; }, $repo);
	return sort @files;
}

my $autos = "SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'";

# The extension arrives after start-up; so do the tenants and the registry listing them. Tenant
# 'bogus' is no tenant_id (an int): its backups fail.
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row ' || g FROM generate_series(1, 3) t, generate_series(1, 100) g;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2'), ('3'), ('bogus');
});
set_clock(0, 1, 59, 57);
sql("SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', keep_last => 2)");
is( sql("SELECT string_agg(tenant || ' ' || to_char(next_run AT TIME ZONE 'UTC', 'HH24:MI'), ', ' ORDER BY tenant) "
			. "FROM tenant_backup.backup_schedules()"),
	'1 02:00, 2 02:00, 3 02:00, bogus 02:00',
	'every registered tenant is scheduled for 02:00');

ok(wait_for($autos, '3'), 'the 02:00 run backed up the three tenants');
ok(wait_for("SELECT consecutive_failures >= 2 FROM tenant_backup.backup_status WHERE tenant = 'bogus'", 't'),
	'the failing tenant is retried');
like(sql("SELECT last_error FROM tenant_backup.backup_status WHERE tenant = 'bogus'"),
	qr/invalid input syntax for type integer/, 'its last error is recorded');
my $log = slurp_file($node->logfile);
like($log, qr/scheduled backup \d+ of tenant "bogus" failed \(1 in a row\).*\n.*HINT:  It is retried in 2 s/,
	'the failure is logged with the tenant, the reason and the retry');
like($log, qr/scheduled backup \d+ of tenant "bogus" failed \(2 in a row\).*\n.*HINT:  It is retried in 4 s/,
	'the retry delay doubles');
is( sql("SELECT string_agg(tenant || ':' || last_backup_kind || ':' || scheduled || ':' || consecutive_failures, ' ' "
			. "ORDER BY tenant) FROM tenant_backup.backup_status WHERE tenant <> 'bogus'"),
	'1:auto:true:0 2:auto:true:0 3:auto:true:0',
	'backup_status: the others are protected');

# Retention: a manual backup, then two more nights. keep_last = 2 prunes the oldest automatic
# backup of each tenant on the second night, and never the manual one.
my $manual = sql("SELECT tenant_backup.backup_create('1', 'by hand')");
my $first_night = sql("SELECT string_agg(object_name, ' ' ORDER BY id) FROM tenant_backup.backups WHERE kind = 'auto'");
sub max_id { return sql("SELECT max(id) FROM tenant_backup.backups"); }
sub completed_since { return "SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed' AND id > $_[0]"; }
for my $night (1, 2)
{
	my $max = max_id();
	set_clock($night, 1, 59, 57);
	ok(wait_for(completed_since($max), '3'), "night $night: all three tenants backed up");
}
# Retention runs after each backup has committed, in a transaction of its own: wait for it.
ok( wait_for(
		"SELECT string_agg(tenant || ':' || n, ' ' ORDER BY tenant) FROM (SELECT tenant, count(*) n "
		  . "FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed' GROUP BY tenant) s",
		'1:2 2:2 3:2'),
	'two automatic backups per tenant');
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE id = $manual"), '1', 'the manual backup is kept');
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'delete' AND error LIKE 'retention%'",
		'3'), 'retention deletions are audited');
for my $name (split / /, $first_night)
{
	my $gone = 0;    # unlinked once the deleting transaction has committed
	for (1 .. 100) { last if ($gone = !-e "$repo/$name"); usleep(100_000); }
	ok($gone, "pruned archive $name is gone from the repository");
}

# SIGHUP picks up a new database list: a scheduler starts for a database created later.
sql("CREATE DATABASE second");
$node->append_conf('postgresql.conf', "tenant_backup.databases = 'postgres, second'");
$node->reload;
ok(wait_for("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenant_backup scheduler'", '2'),
	'after a reload, a scheduler serves the second database too');

# A terminated scheduler is started again by the launcher.
my $scheduler_pid = sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'tenant_backup scheduler' "
	  . "AND datname = 'postgres'");
sql("SELECT pg_terminate_backend($scheduler_pid)");
ok(wait_for("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenant_backup scheduler' "
		. "AND datname = 'postgres' AND pid <> $scheduler_pid", '1'), 'a terminated scheduler is started again');

# A crash in the middle of a scheduled backup. Holding a lock on the tenant table makes the jobs
# wait inside their backups (temporary archives written, rows 'running'); max_parallel (2) jobs
# run at once, the third tenant waits its turn.
sql("DELETE FROM registry WHERE tenant_id = 'bogus'");
my $waiting_jobs = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenant_backup job' "
  . "AND wait_event_type = 'Lock'";
my $blocker = $node->background_psql('postgres');
$blocker->query_safe("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
my $max = max_id();
set_clock(3, 1, 59, 57);
ok(wait_for($waiting_jobs, '2'), 'two jobs (max_parallel) are waiting inside their backups');
my $running = sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM tenant_backup.backups WHERE status = 'running'");
is(scalar(my @ids = split /,/, $running), 2, 'their rows say running, the third tenant has none yet');
is(scalar(grep { /\.tmp$/ } repo_files()), 2, 'and their temporary archives exist');
is(sql("SELECT string_agg(kind || ' ' || current_table || ' ' || tables_done || '/' || tables_total, ', ') "
		. "FROM tenant_backup.backup_progress WHERE backup_id IN ($running)"),
	'auto public.items 0/2, auto public.items 0/2', 'backup_progress shows the running jobs (items, then registry)');
# A role that is no backup admin sees the running backups of the tenants it may view.
sql("CREATE ROLE progress_viewer; SELECT tenant_backup.backup_grant('progress_viewer', 'backup.view', '1')");
is(sql("SET ROLE progress_viewer; SELECT string_agg(tenant, ',') FROM tenant_backup.backup_progress"),
	'1', 'backup_progress shows a role holding backup.view on tenant 1 its running backup only');
$node->stop('immediate');
$blocker->quit;
$node->start;
ok(wait_for("SELECT count(*) FROM tenant_backup.backups WHERE id IN ($running) AND status = 'failed' "
		. "AND error LIKE 'interrupted%'", '2'), 'after the crash, the interrupted jobs are marked failed');
ok(wait_for(completed_since($max), '3'), 'and retried until they succeed');
is(join(' ', grep { /\.tmp$/ } repo_files()), '', 'no temporary archive is left');
for my $id (@ids)
{
	ok(!(grep { m{/$id-} } repo_files()), "no archive of the interrupted backup $id");
}
# (Polled: retention's deletions are unlinked just after their transaction commits.)
my ($files, $catalog);
for (1 .. 100)
{
	# (each archive with the record issue 18 writes beside it)
	$files = join(' ', repo_files());
	$catalog = sql("SELECT string_agg(n, ' ' ORDER BY n COLLATE \"C\") FROM (SELECT object_name AS n "
		  . "FROM tenant_backup.backups WHERE status = 'completed' UNION ALL SELECT object_name || '.record' "
		  . "FROM tenant_backup.backups WHERE status = 'completed') r");
	last if $files eq $catalog;
	usleep(100_000);
}
is($files, $catalog, 'the repository holds exactly the completed backups (and their records)');

# A job worker terminated mid-backup (not a crash): recorded as failed, then retried.
$blocker = $node->background_psql('postgres');
$blocker->query_safe("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
$max = max_id();
set_clock(4, 1, 59, 57);
ok(wait_for($waiting_jobs, '2'), 'two jobs wait again');
sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tenant_backup job'");
ok(wait_for("SELECT count(*) FROM tenant_backup.backups WHERE status = 'failed' AND error LIKE 'interrupted%' "
		. "AND id > $max", '2'), 'terminated jobs are marked failed');
$blocker->query_safe("COMMIT");
$blocker->quit;
ok(wait_for(completed_since($max), '3'), 'their retries succeed');
ok(wait_for("SELECT count(*) FROM tenant_backup.schedule_state WHERE consecutive_failures = 0 "
		. "AND running_backup_id IS NULL", '3'), 'and reset the failure count');

# A job worker killed with SIGKILL: the postmaster (the same process) reinitializes after the
# crash, the scheduler comes back by itself, marks the job failed and retries it.
my $postmaster = $node->safe_psql('postgres', "SELECT pg_postmaster_start_time()");
$blocker = $node->background_psql('postgres');
$blocker->query_safe("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
$max = max_id();
set_clock(5, 1, 59, 57);
ok(wait_for($waiting_jobs, '2'), 'two jobs wait once more');
my $victim = sql("SELECT min(pid) FROM pg_stat_activity WHERE application_name = 'tenant_backup job'");
my $victim_backup = sql("SELECT running_backup_id FROM tenant_backup.schedule_state WHERE running_pid = $victim");
kill 'KILL', $victim;
$blocker->quit;
my $back = 0;
for (1 .. 300)
{
	last if ($back = $node->psql('postgres', 'SELECT 1') == 0);
	usleep(100_000);
}
ok($back, 'the server accepts connections again after the crash');
ok(wait_for("SELECT status || ' ' || (error LIKE 'interrupted%') FROM tenant_backup.backups WHERE id = $victim_backup",
		'failed true'), 'the killed job is marked failed');
ok(wait_for(completed_since($max), '3'), 'and every tenant is backed up after the retries');
is($node->safe_psql('postgres', "SELECT pg_postmaster_start_time()"), $postmaster,
	'the postmaster itself never went down');

# Missed runs: the server is down across two nights (days 6 and 7 at 02:00). After
# start-up each tenant is backed up once, not three times, and the next run is day 8.
# (Day 5's run happened above; days 6 and 7 are missed.)
$max = max_id();
$node->stop;
my $offset = $today + 7 * 86400 + 5 * 3600 - time();
$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $offset");
$node->start;
ok(wait_for(completed_since($max), '3'), 'after start-up the missed run happened');
sleep 4;    # several more scheduler passes
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND id > $max"),
	'3', 'once per tenant, not once per missed night');
is(sql("SELECT DISTINCT extract(epoch FROM next_run)::bigint FROM tenant_backup.schedule_state"),
	$today + 8 * 86400 + 2 * 3600, 'the next run is the next night at 02:00');

$node->stop;
done_testing();
