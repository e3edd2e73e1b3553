# The audit trail's channel outside the caller's transaction (issue 14, findings 10 and 11), with
# tenant_backup preloaded: events go to a queue in shared memory that the database's scheduler
# drains, so they need no background-worker slot.
#   - with every max_worker_processes slot taken by an unprivileged role's parallel queries, a
#     denied call is still audited in tenant_backup.backup_audit (it used to reach the log only);
#   - a successful download inside BEGIN ... ROLLBACK is audited;
#   - while the scheduler cannot write (backup_audit locked), the caller is never blocked: the
#     queue fills, and each event that does not fit is in the server log as "NOT RECORDED";
#     every event is either in the table once the lock is gone or logged as not recorded;
#   - on a hot standby (no scheduler, nothing can be written) a download works (no row lock on
#     the catalog), a denial returns at once, and both events are in the log as NOT RECORDED.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

# The scheduler drains the queue; no registry here (the tenants are the tables' own).
my $node = scheduler_node('audit_channel',
	"tenant_backup.tenant_registry = ''\nmax_worker_processes = 6\nmax_parallel_workers = 8\n",
	allows_streaming => 1);

sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT 1, g, 'row ' || g FROM generate_series(1, 10) g;
CREATE TABLE big (n int);
INSERT INTO big SELECT g FROM generate_series(1, 200000) g;
CREATE ROLE attacker LOGIN;
CREATE ROLE reader LOGIN;
GRANT SELECT ON big TO attacker;
GRANT SELECT ON items TO reader;
SELECT tenant_backup.backup_grant('reader', 'backup.download', '1');
});
my $backup = sql("SELECT tenant_backup.backup_create('1')");
ok(wait_for("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_backup scheduler'", '1'),
	'the scheduler serves the database');
my $denied_sql =
	"SELECT count(*) FROM tenant_backup.backup_audit WHERE current_user_name = 'attacker' AND outcome = 'denied'";

# The attacker fills every worker slot with parallel queries (launcher and scheduler hold two).
my $parallel = q{
SET max_parallel_workers_per_gather = 8;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
};
my @hogs = map { $node->background_psql('postgres', on_error_stop => 0) } 1 .. 2;
my @hog_pids;
for my $hog (@hogs)
{
	push @hog_pids, $hog->query_safe("SET ROLE attacker; SELECT pg_backend_pid()");
	$hog->query_until(qr/started/, $parallel . "\\echo started\nSELECT count(pg_sleep(0.01)) FROM big;\n");
}
# Proof that no slot is free: one more parallel query gets no worker.
my $no_slot = 0;
for (1 .. 600)
{
	my $plan = sql("SET ROLE attacker; $parallel EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
		  . "SELECT count(*) FROM big WHERE n < 0");
	if ($plan =~ /Workers Planned: [1-9]/ && $plan =~ /Workers Launched: 0/) { $no_slot = 1; last; }
	usleep(100_000);
}
ok($no_slot, 'parallel queries of the attacker hold every free worker slot');

my ($rc, $out, $err) = $node->psql('postgres', "SET ROLE attacker; SELECT count(*) FROM tenant_backup.backup_download($backup)");
like($err, qr/permission denied: backup $backup does not exist or role "attacker" does not hold backup.download on its tenant/,
	'the attacker is denied');
ok(wait_for($denied_sql, '1'), 'the denial is in backup_audit although no worker slot is free');
my $log = slurp_file($node->logfile);
unlike($log, qr/could not start a background worker to record an audit event/, 'no audit worker was needed');

# A successful download, rolled back: the data left, so the audit row stays.
sql("BEGIN; SET ROLE reader; SELECT count(*) FROM tenant_backup.backup_download($backup); ROLLBACK;");
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backup_audit WHERE current_user_name = 'reader' AND action = 'download' "
		  . "AND outcome = 'ok' AND backup_id = $backup",
		'1'),
	'a download inside BEGIN ... ROLLBACK is audited');

# The hogs stop; then the scheduler is kept from writing: the table is locked.
sql("SELECT pg_cancel_backend($_)") for @hog_pids;
$_->quit for @hogs;
my $locker = $node->background_psql('postgres', on_error_stop => 0);
$locker->query_safe("BEGIN; LOCK TABLE tenant_backup.backup_audit IN ACCESS EXCLUSIVE MODE");

# 300 denials in a row: more than the queue holds. None waits for the locked table.
my $calls = 300;
my $started = time;
($rc, $out, $err) = $node->psql(
	'postgres', qq{SET ROLE attacker;
DO \$\$
BEGIN
    FOR i IN 1..$calls LOOP
        BEGIN
            PERFORM count(*) FROM tenant_backup.backup_download($backup);
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
    END LOOP;
END
\$\$;},
	timeout => 120);
is($rc, 0, 'the denied calls return while the audit table is locked');
cmp_ok(time - $started, '<', 60, 'and do not wait for it');
$log = slurp_file($node->logfile);
my $lost = () = $log =~ /tenant_backup audit: NOT RECORDED in tenant_backup\.backup_audit \(the audit queue is full\): action=download outcome=denied/g;
cmp_ok($lost, '>', 0, 'events that do not fit in the queue are logged as NOT RECORDED');
cmp_ok($lost, '<', $calls, 'the queue held the others');

# Once the lock is gone, every event is in the table or was logged as not recorded.
$locker->query_safe("COMMIT");
$locker->quit;
ok(wait_for($denied_sql, 1 + $calls - $lost), 'every queued event reached backup_audit');
is(sql("SELECT count(*) FROM tenant_backup.backup_audit WHERE current_user_name = 'attacker' AND tenant = '1'"),
	1 + $calls - $lost, 'the audit rows name the tenant that the denial itself did not');

# A hot standby: reads work, and audit events go to the log without waiting for anything.
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('audit_standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
my $on_standby = $standby->safe_psql('postgres',
	"SET ROLE reader; SELECT count(*) > 0 FROM tenant_backup.backup_download($backup)");
is($on_standby, 't', 'a download works on the standby');
$started = time;
($rc, $out, $err) = $standby->psql('postgres', "SET ROLE attacker; SELECT count(*) FROM tenant_backup.backup_download($backup)",
	timeout => 60);
like($err, qr/permission denied: backup $backup does not exist/, 'a denial on the standby is raised');
cmp_ok(time - $started, '<', 30, 'without waiting for an audit writer');
my $standby_log = slurp_file($standby->logfile);
like($standby_log,
	qr/tenant_backup audit: NOT RECORDED in tenant_backup\.backup_audit \(the server is a hot standby\): action=download outcome=ok .*current_user="reader"/,
	'the standby logs the download as not recorded');
like($standby_log,
	qr/tenant_backup audit: NOT RECORDED in tenant_backup\.backup_audit \(the server is a hot standby\): action=download outcome=denied .*current_user="attacker"/,
	'and the denial');
$standby->stop;

$node->stop;
done_testing();
