# The scheduler under signals and DDL (issue 23.2, issue 16.5):
#   - SIGTERM ends a scheduler in the middle of a pass (its SQL waiting for a lock) within a
#     second, and the pass leaves nothing behind;
#   - pg_ctl stop -m fast finishes in seconds while a pass waits;
#   - DROP EXTENSION ... CASCADE; CREATE EXTENSION, repeated while the scheduler starts and its
#     job workers run, never deadlocks: they back off from an extension being dropped or created;
#   - a job worker takes due tenants one after another: max_parallel workers back up every tenant;
#   - a schedule set a moment before its time runs then: the scheduler is woken by the change.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

# An hour's naptime: every pass below is one the scheduler was woken for (a schedule change, a
# reload, a job worker exiting).
my $node = scheduler_node('scheduler_signals', "deadlock_timeout = 100ms\ntenant_backup.scheduler_naptime = 3600\n");

my $scheduler = "SELECT pid FROM pg_stat_activity WHERE backend_type = 'tenant_backup scheduler'";
sub scheduler_pid { return sql($scheduler); }

# 40 tenants of two tables, every minute: job workers are busy while the DDL below runs.
my $setup = q{
CREATE EXTENSION tenant_backup;
SELECT tenant_backup.backup_schedule_set(cron => '* * * * *', keep_last => 2);
};
sql(q{
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry SELECT g FROM generate_series(1, 40) g;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE notes (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g FROM generate_series(1, 40) t, generate_series(1, 5) g;
INSERT INTO notes SELECT t, g FROM generate_series(1, 40) t, generate_series(1, 5) g;
CREATE EXTENSION tenant_backup;
});
# The schedule is set two seconds before its time: the scheduler, woken when it commits, runs it
# then (issue 19.4), not an hour later.
set_clock(0, 1, 59, 58);
sleep 1;    # the pass of the reload has run
sql("SELECT tenant_backup.backup_schedule_set(cron => '* * * * *', keep_last => 2)");
ok(wait_for("SELECT count(DISTINCT tenant) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'",
		'40'), 'two job workers (max_parallel) backed up all 40 tenants, one after another');
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE status <> 'completed'"), '0', 'none failed');
like(slurp_file($node->logfile), qr/LOG:  tenant_backup job: \d+ scheduled backups taken, 0 failed/,
	'a job worker logs one summary line');

# DROP and CREATE, again and again, while the scheduler passes (every second) and job workers
# back up (every minute; the clock is set a moment before one). Never a deadlock, never a failed
# statement.
$node->restart;
set_clock(1, 1, 59, 59);
my $failures = 0;
for my $round (1 .. 8)
{
	my ($rc, $out, $err) = $node->psql('postgres', "SET tenant_backup.drop_confirmed = on; DROP EXTENSION tenant_backup CASCADE; $setup");
	if ($rc != 0) { $failures++; diag("round $round: $err"); }
	usleep(150_000 * ($round % 3));
}
is($failures, 0, 'DROP EXTENSION CASCADE and CREATE EXTENSION succeeded every time');
unlike(slurp_file($node->logfile), qr/deadlock detected/, 'no deadlock was detected');
set_clock(2, 1, 59, 58);
ok(wait_for("SELECT count(DISTINCT tenant) >= 40 FROM tenant_backup.backups WHERE status = 'completed'", 't'),
	'afterwards the scheduler backs up every tenant again');

# A pass waiting for a lock (the registry is locked; a reload asks for discovery) ends within a
# second of SIGTERM, and its transaction leaves nothing: the tenant it would have added is not.
my $blocker = $node->background_psql('postgres');
$blocker->query_safe("INSERT INTO registry VALUES ('new'); BEGIN; LOCK TABLE registry IN ACCESS EXCLUSIVE MODE");
$node->reload;
ok(wait_for("SELECT wait_event_type FROM pg_stat_activity WHERE backend_type = 'tenant_backup scheduler'", 'Lock'),
	'the scheduler\'s pass waits for the registry');
my $pid = scheduler_pid();
my $start = time();
kill 'TERM', $pid;
my $gone = 0;
for (1 .. 100)
{
	last if ($gone = sql("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '0');
	usleep(20_000);
}
my $took = time() - $start;
ok($gone && $took < 1.0, sprintf('SIGTERM ended the scheduler mid-pass in %.2f s', $took));
is(sql("SELECT count(*) FROM tenant_backup.schedule_state WHERE tenant = 'new'"), '0',
	'the interrupted pass left nothing behind');

# The launcher starts a scheduler again (at once when woken by a reload); its pass waits for the
# lock too, and a fast shutdown does not wait for it.
$node->reload;
ok(wait_for("SELECT wait_event_type FROM pg_stat_activity WHERE backend_type = 'tenant_backup scheduler'", 'Lock'),
	'a new scheduler\'s pass waits for the registry');
$start = time();
$node->stop('fast');
$took = time() - $start;
ok($took < 5, sprintf('pg_ctl stop -m fast took %.1f s while a pass waited', $took));
eval { $blocker->quit; };

done_testing();
