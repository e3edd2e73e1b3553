# tenant_backup.databases left at its default ('*', issue 19.2): the launcher serves every
# database where the extension is created, and no other.
#   - CREATE EXTENSION in two databases (app, other): a scheduler starts in each at once (the
#     launcher is woken at commit), and the schedules of both run;
#   - a database without the extension gets no scheduler, and is not connected to again at every
#     pass (its transaction count stays still);
#   - CREATE EXTENSION there later starts its scheduler within seconds, not at the next rescan;
#   - DROP EXTENSION stops the scheduler of that database; served_by_scheduler says so; a DROP
#     right after CREATE EXTENSION never deadlocks with the workers the scheduler starts;
#   - a setting that narrows the list (tenant_backup.databases = 'app') stops the other, and
#     backup_schedule_set there WARNs with a hint that names the setting;
#   - with no free worker slot no scheduler starts, and backup_schedule_set WARNs after giving
#     the launcher a few seconds (it does not stay silent because one should come).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use POSIX qw(floor);

my $node = PostgreSQL::Test::Cluster->new('all_databases');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'tenant_backup'
tenant_backup.scheduler_naptime = 1
tenant_backup.retry_interval = 2
tenant_backup.tenant_registry = 'public.registry'
tenant_backup.unencrypted_backups = 'allow'
max_worker_processes = 16
autovacuum = off
});
$node->start;
is($node->safe_psql('postgres', 'SHOW tenant_backup.databases'), '*', "the default is '*'");

sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q); }

sub wait_for
{
	my ($db, $q, $expected, $seconds) = @_;
	my $deadline = time() + ($seconds // 60);
	my $got;
	while (time() < $deadline)
	{
		$got = sql($db, $q);
		return 1 if $got eq $expected;
		usleep(100_000);
	}
	diag("still $got instead of $expected for: $q");
	return 0;
}

my $schedulers = "SELECT coalesce(string_agg(datname, ',' ORDER BY datname), '') FROM pg_stat_activity "
  . "WHERE backend_type = 'tenant_backup scheduler'";

sql('postgres', 'CREATE DATABASE app; CREATE DATABASE other; CREATE DATABASE plain');
my $tables = q{
CREATE TABLE registry (tenant_id text PRIMARY KEY);
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
INSERT INTO registry VALUES ('1'), ('2');
INSERT INTO items SELECT t, g FROM generate_series(1, 2) t, generate_series(1, 3) g;
};
sql($_, $tables) for qw(app other plain);
# (give the launcher a pass over the new databases: none has the extension yet)
sleep 2;
is(sql('postgres', $schedulers), '', 'no scheduler where the extension is not created');

my $created = time();
sql($_, 'CREATE EXTENSION tenant_backup') for qw(app other);
ok(wait_for('postgres', $schedulers, 'app,other', 20), 'CREATE EXTENSION starts a scheduler in app and other');
my $took = time() - $created;
cmp_ok($took, '<', 10, "within seconds (woken at commit, not at the 60 s rescan): $took s");
ok(wait_for($_, 'SELECT tenant_backup._scheduler_serves()', 't', 10), "served_by_scheduler in $_")
  for qw(app other);

# A schedule in each, set to run within seconds (the scheduler's clock is set a moment before a
# minute); no WARNING, since a scheduler serves the database.
my $offset = floor(time() / 60) * 60 + 58 + 120 - time();
$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $offset");
$node->reload;
sleep 1;
for my $db (qw(app other))
{
	my ($stdout, $stderr);
	$node->psql($db, "SELECT tenant_backup.backup_schedule_set(cron => '* * * * *', keep_last => 5)",
		stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
	unlike($stderr, qr/WARNING/, "no WARNING from backup_schedule_set in $db");
}
for my $db (qw(app other))
{
	ok( wait_for(
			$db,
			"SELECT count(DISTINCT tenant) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'",
			'2', 60),
		"the scheduled backups of both tenants of $db ran");
	is( sql($db,
			"SELECT string_agg(tenant || ':' || served_by_scheduler || ':' || (last_backup_at IS NOT NULL), ',' "
			  . "ORDER BY tenant) FROM tenant_backup.backup_status"),
		'1:true:true,2:true:true',
		"backup_status in $db: served, last backup taken");
}

# The database without the extension is not connected to at every launcher pass (every 10 s);
# each probe would be a transaction of its own there (autovacuum, which would connect too, is off).
my $xacts = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'plain'";
sql('postgres', 'SELECT pg_stat_clear_snapshot()');
my $before = sql('postgres', $xacts);
sleep 12;
is(sql('postgres', $xacts), $before, 'plain is not probed again at every pass');
is(sql('postgres', $schedulers), 'app,other', 'and still has no scheduler');

# CREATE EXTENSION there later: served within seconds.
$created = time();
sql('plain', 'CREATE EXTENSION tenant_backup');
ok(wait_for('postgres', $schedulers, 'app,other,plain', 20), 'a later CREATE EXTENSION starts its scheduler');
$took = time() - $created;
cmp_ok($took, '<', 10, "within seconds, not at the ten-minute re-probe: $took s");

# DROP EXTENSION: the scheduler of that database stops (at its next pass).
sql('plain', 'DROP EXTENSION tenant_backup');
ok(wait_for('postgres', $schedulers, 'app,other', 30), 'DROP EXTENSION stops the scheduler of plain');
sleep 11; # a launcher pass or more
is(sql('postgres', $schedulers), 'app,other', 'and it is not started again');

# DROP EXTENSION at once after CREATE EXTENSION, as the scheduler and the sync worker it starts
# at its first pass read the catalog: never a deadlock (the sync worker held one table while
# waiting for another the DROP held, and about one DROP in twenty was aborted).
my @drop_failures;
$node->append_conf('postgresql.conf', "deadlock_timeout = '100ms'");
$node->reload;
my $workers_in_plain =
  "SELECT count(*) FROM pg_stat_activity WHERE datname = 'plain' AND backend_type LIKE 'tenant_backup%'";
my $log_from = -s $node->logfile;
for my $round (1 .. 20)
{
	# (the last round's workers gone first, so that the wait below sees this round's)
	wait_for('postgres', $workers_in_plain, '0', 30);
	sql('plain', 'CREATE EXTENSION tenant_backup');
	# (as soon as the scheduler runs: its first pass starts the sync worker)
	my $deadline = time() + 3;
	usleep(10_000) while time() < $deadline && sql('postgres', $workers_in_plain) eq '0';
	my ($stdout, $stderr);
	my $rc = $node->psql('plain', 'DROP EXTENSION tenant_backup', stdout => \$stdout, stderr => \$stderr);
	if ($rc != 0)
	{
		push @drop_failures, "round $round: $stderr";
		sql('plain', 'DROP EXTENSION IF EXISTS tenant_backup');
	}
}
is(join("\n", @drop_failures), '', 'DROP EXTENSION right after CREATE EXTENSION succeeds every time (20 rounds)');
# (a deadlock whose victim was a worker, not the DROP, shows in the log only)
my $log = slurp_file($node->logfile, $log_from);
unlike($log, qr/deadlock detected/, 'and no deadlock is detected in any process');
ok(wait_for('postgres', $schedulers, 'app,other', 30), 'and no scheduler is left in plain');

# Narrowed by the setting: only app is served; other's scheduler stops, and a schedule set there
# is warned about, naming the setting.
$node->append_conf('postgresql.conf', "tenant_backup.databases = 'app'");
$node->reload;
ok(wait_for('postgres', $schedulers, 'app', 30), "tenant_backup.databases = 'app' serves app only");
is(sql('other', 'SELECT DISTINCT served_by_scheduler FROM tenant_backup.backup_status'),
	'f', 'backup_status in other says no scheduler serves it');
my ($stdout, $stderr);
$node->psql('other', "SELECT tenant_backup.backup_schedule_set(cron => '0 3 * * *')",
	stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
like($stderr, qr/WARNING:  no tenant_backup scheduler serves database "other"/, 'backup_schedule_set in other WARNs');
like($stderr, qr/HINT:  Add the database to tenant_backup\.databases \(now "app"\), or set it to '\*'/,
	'with a hint naming the setting');
$node->psql('app', "SELECT tenant_backup.backup_schedule_set(cron => '0 3 * * *')",
	stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
unlike($stderr, qr/WARNING:  no tenant_backup scheduler/, 'and not in app');

# Back to the default: other is served again.
$node->append_conf('postgresql.conf', "tenant_backup.databases = '*'");
$node->reload;
ok(wait_for('postgres', $schedulers, 'app,other', 30), "back to '*': other is served again");

# No free worker slot (max_worker_processes = 2: the launcher and logical replication's): no
# scheduler can start.
# backup_schedule_set gives the launcher a few seconds, then says so; backup_status agrees.
$node->append_conf('postgresql.conf', "max_worker_processes = 2");
$node->restart;
$node->psql('app', "SELECT tenant_backup.backup_schedule_set(cron => '0 4 * * *')",
	stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
like($stderr, qr/WARNING:  no tenant_backup scheduler serves database "app" yet: the launcher did not start one/,
	'without a free worker slot, backup_schedule_set WARNs that no scheduler came');
like($stderr, qr/HINT:  .*max_worker_processes/, 'naming max_worker_processes');
is(sql('app', 'SELECT DISTINCT served_by_scheduler FROM tenant_backup.backup_status'),
	'f', 'and backup_status says app is not served');
$node->append_conf('postgresql.conf', "max_worker_processes = 16");
$node->restart;
ok(wait_for('postgres', $schedulers, 'app,other', 30), 'with slots again, both are served after the restart');

$node->stop;
done_testing();
