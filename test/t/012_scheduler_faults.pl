# The scheduler when things go wrong around it, with a test clock
# (tenant_backup.scheduler_clock_offset): one bad input never stops the other tenants.
#   - a schedule row that no longer parses is skipped with one WARNING (not one per pass), and
#     its tenant is not backed up under another schedule;
#   - a dropped tenant registry is logged, and the tenants found before are still backed up;
#   - a PostgreSQL error while removing a failed backup's leftovers is logged, and the failure is
#     recorded all the same;
#   - a retention that fails keeps the backup just taken, is logged, and runs after the next one;
#   - backup_status's overdue compares created_at on the test clock;
#   - a job whose pid now belongs to an unrelated backend is marked failed;
#   - backup_progress shows a tenant longer than 127 bytes whole, to the roles that may view it;
#   - a job running past tenant_backup.job_timeout is terminated and recorded failed;
#   - without a free worker slot, claims are given back (no failure) with one WARNING.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('scheduler_faults');

sub max_id { return sql("SELECT coalesce(max(id), 0) FROM tenant_backup.backups"); }
sub completed_since
{
	return "SELECT string_agg(tenant, ' ' ORDER BY tenant) FROM tenant_backup.backups "
	  . "WHERE kind = 'auto' AND status = 'completed' AND id > $_[0]";
}
# Polls the server log until it matches (or 60 s pass).
sub wait_for_log
{
	my ($pattern) = @_;
	for (1 .. 600)
	{
		return 1 if slurp_file($node->logfile) =~ $pattern;
		usleep(100_000);
	}
	return 0;
}
sub log_count
{
	my ($pattern) = @_;
	my @hits = slurp_file($node->logfile) =~ /$pattern/g;
	return scalar @hits;
}

# Tenants 1-3 and a registry listing them. Tenant 3's own schedule row no longer parses (as a
# row stored before the cron parser refused "*/5x" would).
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row ' || g FROM generate_series(1, 3) t, generate_series(1, 20) g;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2'), ('3');
SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', keep_last => 5);
INSERT INTO tenant_backup.schedules (tenant, cron, time_zone, keep_last) VALUES ('3', '*/5x * * * *', 'UTC', 1);
});
set_clock(0, 1, 59, 57);

my $max = max_id();
ok(wait_for(completed_since($max), '1 2'), 'the 02:00 run backed up tenants 1 and 2');
sleep 3;    # several more passes, each of which skips the bad row
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE tenant = '3'"), '0',
	'tenant 3, whose schedule does not parse, is not backed up under the default');
is(log_count(qr/WARNING:  tenant_backup: the schedule of tenant "3" is not used: invalid cron minute "\*\/5x"/),
	1, 'the bad schedule row is logged once, not at every pass');
is(sql("SELECT next_run IS NULL FROM tenant_backup.schedule_state WHERE tenant = '3'"), 't',
	'tenant 3 has no next run');

# The registry is dropped: discovery fails, the tenants found before keep their schedules.
sql("DROP TABLE registry");
$max = max_id();
set_clock(1, 1, 59, 57);
ok(wait_for(completed_since($max), '1 2'), 'without the registry, the next night still backs up tenants 1 and 2');
like(slurp_file($node->logfile), qr/WARNING:  tenant_backup scheduler: could not find the tenants: relation "public.registry" does not exist/,
	'the failed discovery is logged');

# A PostgreSQL error while a failed backup's leftovers are removed (the catalog of repositories
# cannot be read): logged, and the failure is recorded and retried all the same.
sql(q{
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2'), ('bogus');
ALTER TABLE tenant_backup.repositories RENAME TO repositories_elsewhere;
});
$node->reload;    # discovery again, now with the registry back
$max = max_id();
set_clock(2, 1, 59, 57);
ok(wait_for(completed_since($max), '1 2'), 'tenants 1 and 2 are backed up next to a failing tenant');
ok(wait_for("SELECT consecutive_failures >= 2 FROM tenant_backup.schedule_state WHERE tenant = 'bogus'", 't'),
	'the failing tenant\'s failures are recorded and it is retried');
like(slurp_file($node->logfile), qr/WARNING:  tenant_backup: could not list the repositories: relation "tenant_backup.repositories" does not exist/,
	'the error while removing its leftovers is logged');
sql("ALTER TABLE tenant_backup.repositories_elsewhere RENAME TO repositories");

# Retention that fails (a trigger refuses to delete completed backups) keeps the backup just
# taken: it committed first. The failure is logged with the tenant and the reason, and
# retention runs again after the next backup.
sql(q{
DELETE FROM registry WHERE tenant_id = 'bogus';
SELECT tenant_backup.backup_schedule_set('1', '0 2 * * *', keep_last => 1);
CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'deleting completed backups is refused';
END $$;
CREATE TRIGGER refuse_delete BEFORE DELETE ON tenant_backup.backups
    FOR EACH ROW WHEN (OLD.status = 'completed') EXECUTE FUNCTION refuse_delete();
});
my $tenant1_autos =
  "SELECT count(*) FROM tenant_backup.backups WHERE tenant = '1' AND kind = 'auto' AND status = 'completed'";
$max = max_id();
set_clock(3, 1, 59, 57);
ok(wait_for(completed_since($max), '1 2'), 'night 3: tenants 1 and 2 backed up');
# backup_status reads backups' created_at on the scheduler's (test) clock too: just backed up,
# they are not overdue, although their real created_at is before night 2's scheduled time.
is(sql("SELECT string_agg(tenant || ':' || overdue, ' ' ORDER BY tenant) FROM tenant_backup.backup_status "
		. "WHERE tenant IN ('1', '2')"),
	'1:false 2:false', 'backup_status: with the test clock, a tenant just backed up is not overdue');
ok(wait_for_log(qr/WARNING:  tenant_backup: retention of tenant "1" failed after its backup \d+: deleting completed backups is refused\n.*HINT:  It is applied again after the next backup/),
	'the failed retention is logged with the tenant and the reason');
is(sql($tenant1_autos), '4', 'the new backup of tenant 1 is kept (and, retention having failed, the older ones)');
is(sql("SELECT consecutive_failures || ' ' || (last_error IS NULL) FROM tenant_backup.schedule_state WHERE tenant = '1'"),
	'0 true', 'the backup counts as a success');
sql("DROP TRIGGER refuse_delete ON tenant_backup.backups");
$max = max_id();
set_clock(4, 1, 59, 57);
ok(wait_for(completed_since($max), '1 2'), 'night 4: tenants 1 and 2 backed up');
ok(wait_for($tenant1_autos, '1'), 'retention ran again after the next backup: tenant 1 keeps one');

# A 'running' job of an earlier scheduler whose pid now belongs to an unrelated backend (pid
# reuse after a restart) is lost all the same: the pid is not a tenant_backup job worker.
my $session = $node->background_psql('postgres');
my $other_pid = $session->query_safe('SELECT pg_backend_pid()');
my $stray = sql(qq{
INSERT INTO tenant_backup.backups (tenant, kind, label, status) VALUES ('2', 'auto', 'scheduled', 'running')
    RETURNING id;
UPDATE tenant_backup.schedule_state SET running_backup_id = currval('tenant_backup.backups_id_seq'),
    running_pid = $other_pid, last_attempt_at = now() WHERE tenant = '2';
});
ok(wait_for("SELECT status || ' ' || (error LIKE 'interrupted%') FROM tenant_backup.backups WHERE id = $stray",
		'failed true'), 'a job whose pid is now another backend\'s is marked failed');
$session->quit;
ok(wait_for("SELECT consecutive_failures FROM tenant_backup.schedule_state WHERE tenant = '2'", '0'),
	'and retried');

# backup_progress with a tenant longer than 127 bytes, of two-byte characters, in a database
# whose tenant column is text: shown whole, and to the roles that may view that very tenant
# (not to one holding backup.view on a prefix of it).
$node->safe_psql('postgres', 'CREATE DATABASE texts');
$node->safe_psql(
	'texts', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE notes (tenant_id text NOT NULL, body text);
INSERT INTO notes SELECT repeat('é', 100), 'note ' || g FROM generate_series(1, 10) g;
CREATE ROLE long_viewer;
CREATE ROLE prefix_viewer;
SELECT tenant_backup.backup_grant('long_viewer', 'backup.view', repeat('é', 100));
SELECT tenant_backup.backup_grant('prefix_viewer', 'backup.view', repeat('é', 63));
});
my $locker = $node->background_psql('texts');
$locker->query_safe('BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE');
my $backuper = $node->background_psql('texts');
$backuper->query_until(qr/started/, q{\echo started
SELECT tenant_backup.backup_create(repeat('é', 100));
});
my $progress = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'texts' AND wait_event_type = 'Lock'";
ok(wait_for($progress, '1'), 'a backup of the long tenant waits for its table');
is($node->safe_psql('texts', "SELECT tenant = repeat('é', 100) FROM tenant_backup.backup_progress"),
	't', 'backup_progress shows the long tenant whole');
is($node->safe_psql('texts', "SET ROLE long_viewer; SELECT count(*) FROM tenant_backup.backup_progress"),
	'1', 'a role holding backup.view on it sees it');
is($node->safe_psql('texts', "SET ROLE prefix_viewer; SELECT count(*) FROM tenant_backup.backup_progress"),
	'0', 'a role holding backup.view on a prefix of it does not');
is(sql("SELECT count(*) FROM tenant_backup.backup_progress"), '0', 'nor does another database');
$locker->query_safe('COMMIT');
$locker->quit;
$backuper->quit;

# A job running longer than tenant_backup.job_timeout (here: waiting for a lock) is terminated
# and recorded failed, which frees its max_parallel slot; the retry succeeds once the lock is gone.
$node->append_conf('postgresql.conf', 'tenant_backup.job_timeout = 3');
$node->reload;
my $blocker = $node->background_psql('postgres');
$blocker->query_safe("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
$max = max_id();
set_clock(5, 1, 59, 57);
ok(wait_for("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenant_backup job' "
		. "AND wait_event_type = 'Lock'", '2'), 'two jobs wait for the lock');
my $job_pids = sql("SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = 'tenant_backup job'");
ok(wait_for("SELECT count(*) FROM pg_stat_activity WHERE pid IN ($job_pids)", '0'),
	'after job_timeout their workers are terminated');
ok(wait_for("SELECT count(*) >= 2 FROM tenant_backup.backups WHERE id > $max AND status = 'failed' "
		. "AND error = 'timed out: running for longer than tenant_backup.job_timeout (3 s), its worker was terminated'", 't'),
	'and their backups recorded failed with the reason');
$blocker->query_safe("COMMIT");
$blocker->quit;
$node->append_conf('postgresql.conf', 'tenant_backup.job_timeout = 0');
$node->reload;
ok(wait_for(completed_since($max), '1 2'), 'the retries succeed once the lock is released');

# Without a free background worker slot (the launcher and the scheduler take both), due jobs are
# not started: their claims are given back (no failure counted, no failed row), a WARNING names
# max_worker_processes, once; and they run once slots are free.
$max = max_id();
$node->stop;
$node->append_conf('postgresql.conf', "max_logical_replication_workers = 0\nmax_worker_processes = 2");
my $night6 = $today + 6 * 86400 + 2 * 3600 + 30 - time();    # night 6's run is due
$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $night6");
$node->start;
ok(wait_for_log(qr/WARNING:  tenant_backup scheduler: could not start a background worker for a scheduled backup; it is tried again later\n.*HINT:  Every background worker slot is in use: raise max_worker_processes \(now 2\)/),
	'the WARNING names max_worker_processes');
sleep 3;    # several more passes
is(log_count(qr/could not start a background worker for a scheduled backup/), 1, 'it is logged once, not at every pass');
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE id > $max AND status <> 'running'"), '0',
	'no backup was taken or failed');
is(sql("SELECT max(consecutive_failures) FROM tenant_backup.schedule_state WHERE tenant IN ('1', '2')"), '0',
	'no failure is counted');
$node->stop;
$node->append_conf('postgresql.conf', "max_worker_processes = 16");
$node->start;
ok(wait_for(completed_since($max), '1 2'), 'with free slots the due backups run');

$node->stop;
done_testing();
