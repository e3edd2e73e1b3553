# Asynchronous restores and backups (issue 19.8) without tenant_backup in
# shared_preload_libraries, so with no scheduler: a job still runs (its worker is a dynamic
# background worker of the library), completes and restores the tenant exactly; backup_progress
# is an error saying what it needs; a job whose worker was killed is marked failed by the next
# submission, since no scheduler pass will.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = PostgreSQL::Test::Cluster->new('async_plain');
$node->init;
$node->append_conf('postgresql.conf', "restart_after_crash = on\n");
$node->start;

use_node($node); # sql() and wait_for() of SchedulerTestClock ask it

sql(q{
SET tenant_backup.unencrypted_backups = 'allow';
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row ' || g FROM generate_series(1, 2) t, generate_series(1, 20000) g;
});
my $state = "SELECT md5(string_agg(id || note, ',' ORDER BY id)) FROM items WHERE tenant_id = 1";
my $backed_up = sql($state);
my $backup = sql("SELECT tenant_backup.backup_create('1')");
sql("DELETE FROM items WHERE tenant_id = 1 AND id % 2 = 0");

my $job = sql("SELECT tenant_backup.backup_restore_async($backup)");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'completed'),
	'without the preload, an asynchronous restore runs and completes');
is(sql($state), $backed_up, 'the tenant is exactly as backed up');
is(sql("SELECT rows_done FROM tenant_backup.backup_jobs WHERE id = $job"), '20000', 'its row count is recorded');

my ($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM tenant_backup.backup_progress');
like($err, qr/backup_progress needs tenant_backup in shared_preload_libraries/,
	'backup_progress says it needs the preload, instead of showing nothing');

$job = sql("SELECT tenant_backup.backup_create_async('2', 'async')");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'completed'),
	'an asynchronous backup completes too');
is( sql("SELECT b.row_count || ' ' || b.label FROM tenant_backup.backups b JOIN tenant_backup.backup_jobs j "
		  . "ON j.backup_id = b.id WHERE j.id = $job"),
	'20000 async', 'its backup is the job\'s');

# The session's SET tenant_backup.* values apply to its job, as to the synchronous call: a tenant
# column set for the session only.
sql(q{CREATE TABLE accounts (acct int NOT NULL, id int NOT NULL, PRIMARY KEY (acct, id));
INSERT INTO accounts SELECT 7, g FROM generate_series(1, 500) g;});
my $set = "SET tenant_backup.tenant_column = 'acct'; SET tenant_backup.unencrypted_backups = 'allow'; ";
my $accounts = sql($set . "SELECT tenant_backup.backup_create('7')");
sql("DELETE FROM accounts WHERE id > 100");
$job = sql($set . "SELECT tenant_backup.backup_restore_async($accounts)");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'completed'),
	'a restore submitted with a session tenant column completes');
is(sql("SELECT count(*) FROM accounts WHERE acct = 7"), '500', 'restoring the tables of that column');

# A superuser's session that SET ROLE to an unprivileged role submits: the job acts as that role,
# and code running during it (a column default added since the backup) cannot RESET ROLE back to
# the superuser it logged in as, as it could have in the session.
sql(q{CREATE ROLE app_r;
GRANT SELECT, INSERT, DELETE ON accounts TO app_r;
SELECT tenant_backup.backup_grant('app_r', 'backup.restore', '7');
CREATE FUNCTION who() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'RESET ROLE';
    RETURN current_user;
END $$;
ALTER TABLE accounts ADD COLUMN added_by text DEFAULT who();});
sql("DELETE FROM accounts WHERE id > 100");
$job = sql($set . "SET ROLE app_r; SELECT tenant_backup.backup_restore_async($accounts)");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'failed'),
	'a job whose table code tries to RESET ROLE fails');
like(sql("SELECT requested_by || ' ' || error FROM tenant_backup.backup_jobs WHERE id = $job"),
	qr/^app_r cannot set parameter "role" within security-definer function/, 'it ran as app_r and was refused');
is(sql("SELECT count(*) FROM accounts WHERE acct = 7"), '100', 'nothing was restored');
sql("ALTER TABLE accounts DROP COLUMN added_by");

# A worker killed mid-restore (it waits for a row lock): the server reinitializes; with no
# scheduler, the next submission marks the job failed.
sql("DELETE FROM items WHERE tenant_id = 1 AND id % 2 = 0");
my $before = sql($state);
my $holder = $node->background_psql('postgres');
$holder->query_safe("BEGIN; SELECT 1 FROM items WHERE tenant_id = 1 AND id = 1 FOR UPDATE");
$job = sql("SELECT tenant_backup.backup_restore_async($backup)");
ok( wait_for(
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_backup async job' "
		  . "AND wait_event_type = 'Lock'",
		'1'),
	'a restore waits for a row lock');
kill 'KILL', sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'tenant_backup async job'");
eval { $holder->quit; };
my $back = 0;
for (1 .. 300)
{
	# (psql may find the server going down while it writes: a broken pipe, tried again)
	last if ($back = eval { $node->psql('postgres', 'SELECT 1') == 0 });
	usleep(100_000);
}
ok($back, 'the server accepts connections again after the crash');
is(sql("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job"), 'running', 'no scheduler has reaped it');
my $next = sql("SELECT tenant_backup.backup_create_async('2')");
like( sql("SELECT state || ' ' || error FROM tenant_backup.backup_jobs WHERE id = $job"),
	qr/^failed interrupted: the job's worker exited/, 'the next submission marks it failed');
is(sql($state), $before, 'the tenant is as before the killed restore');
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $next", 'completed'), 'the next job runs');

done_testing();
