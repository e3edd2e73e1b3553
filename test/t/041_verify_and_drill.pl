# Issue 20: the scheduler verifies each automatic backup right after taking it
# (tenant_backup.verify_new_backups, default on), records the outcome (backup_status shows it) and
# audits it; and a restore drill does not block a concurrent writer of the tenant: the writer's
# worst statement latency while a drill runs is measured and reported (not asserted: it depends on
# the machine), and the writer must make progress during the drill.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('verify_and_drill', "tenant_backup.unencrypted_backups = 'allow'\n");
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, v int NOT NULL DEFAULT 0, payload text,
                    PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 0, repeat('x', 200) FROM generate_series(1, 2) t, generate_series(1, 1000) g;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2');
SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', keep_last => 5);
});

# Each automatic backup is verified right after it is taken.
my $autos = "SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'";
set_clock(0, 1, 59, 58);
ok(wait_for($autos, '2'), 'the 02:00 run backed up both tenants');
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND verify_status = 'ok' "
		  . "AND verified_at >= finished_at",
		'2'),
	'and verified both backups right after');
is( sql(
		"SELECT count(*) FROM tenant_backup.backup_status WHERE last_verify_ok AND last_verified_at IS NOT NULL "
		  . "AND NOT unprotected"),
	'2',
	'backup_status shows the verification of each tenant\'s newest backup');
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backup_audit a JOIN tenant_backup.backups b ON b.id = a.backup_id "
		  . "WHERE a.action = 'verify' AND a.outcome = 'ok' AND b.kind = 'auto'",
		'2'),
	'each verification is audited');

# Turned off: the next night's backups are not verified.
$node->append_conf('postgresql.conf', "tenant_backup.verify_new_backups = off\n");
set_clock(1, 1, 59, 58);
ok(wait_for($autos, '4'), 'the next night backed up both tenants');
# The verification would have been in the job's next transaction, before it takes the next tenant.
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_status WHERE running", '0'), 'the jobs are done');
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND verified_at IS NULL"),
	'2', 'with tenant_backup.verify_new_backups = off they are not verified');

# A drill and a concurrent writer of the same tenant. The tenant gets enough rows that the drill
# takes a while; the writer updates one row of the tenant per transaction meanwhile.
$node->append_conf('postgresql.conf', "tenant_backup.verify_new_backups = on\n");
$node->reload;
sql(q{
INSERT INTO items SELECT 1, g, 0, repeat('y', 200) FROM generate_series(1001, 200000) g;
CREATE TABLE writer_result (worst interval, worst_during interval, statements int, during_drill int);
CREATE TABLE drill_window (started timestamptz, ended timestamptz);
CREATE PROCEDURE writer(seconds float8) LANGUAGE plpgsql AS $$
DECLARE
    stop timestamptz := clock_timestamp() + make_interval(secs => seconds);
    t0 timestamptz;
    worst interval := '0';
    n int := 0;
BEGIN
    CREATE TEMP TABLE lat (at timestamptz, took interval);
    WHILE clock_timestamp() < stop LOOP
        t0 := clock_timestamp();
        UPDATE items SET v = v + 1 WHERE tenant_id = 1 AND id = 1 + (random() * 199999)::int;
        COMMIT;
        INSERT INTO lat VALUES (t0, clock_timestamp() - t0);
        n := n + 1;
    END LOOP;
    INSERT INTO writer_result
    SELECT max(took), max(took) FILTER (WHERE at + took >= w.started AND at <= w.ended), n,
           count(*) FILTER (WHERE at BETWEEN w.started AND w.ended)
    FROM lat, drill_window w GROUP BY w.started, w.ended;
    COMMIT;
END
$$;
});
my $backup = sql("SELECT tenant_backup.backup_create('1', 'for the drill')");
my ($wout, $werr) = ('', '');
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', 'CALL writer(12)' ],
	'>', \$wout, '2>', \$werr);
sleep 2;    # the writer is running
my $t0 = time();
my $drill = sql(
	"INSERT INTO drill_window VALUES (clock_timestamp(), NULL); "
	  . "SELECT ok, tables, rows FROM tenant_backup.backup_drill($backup); "
	  . "UPDATE drill_window SET ended = clock_timestamp();");
my $drill_seconds = time() - $t0;
$writer->finish;
is($werr, '', 'the writer ran without error');
is($drill, 't|2|200001', 'the drill of the tenant\'s backup is ok (items and the registry row)');
my ($worst, $worst_during, $statements, $during) = split /\|/,
  sql("SELECT round(extract(epoch FROM worst) * 1000, 1), round(extract(epoch FROM worst_during) * 1000, 1), "
	  . "statements, during_drill FROM writer_result");
ok($during > 0, 'the writer made progress while the drill ran');
diag(sprintf(
		"drill of 200001 rows took %.1f s; the writer ran %d single-row updates (%d during the drill); "
		  . "worst latency %s ms during the drill, %s ms over the whole run",
		$drill_seconds, $statements, $during, $worst_during, $worst));
is(sql("SELECT count(*) FROM items WHERE tenant_id = 1"), '200000', 'the drill left the production rows alone');
is(sql("SELECT last_drill_ok FROM tenant_backup.backup_status WHERE tenant = '1'"),
	't', 'backup_status shows the drill of the newest backup');

$node->stop;
done_testing();
