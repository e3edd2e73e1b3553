# Issue 19.9 for scheduled backups: without an encryption key, the scheduler's jobs do not
# repeat the "not encrypted" WARNING for every job (backup_schedule_set said it once, and
# backups.encrypted shows it), and with tenant_backup.unencrypted_backups = 'refuse' every job
# fails with the refusal, recorded for its tenant, and leaves no archive.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('unencrypted_jobs');
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g FROM generate_series(1, 2) t, generate_series(1, 10) g;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2');
});
my ($rc, $out, $err) =
  $node->psql('postgres', "SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', keep_last => 5)");
like($err, qr/WARNING:  the scheduled backups will not be encrypted/, 'setting the schedule says it, once');

my $autos = "SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'";
set_clock(0, 1, 59, 58);
ok(wait_for($autos, '2'), 'the 02:00 run backed up both tenants');
set_clock(1, 1, 59, 58);
ok(wait_for($autos, '4'), 'and the next night too');
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND encrypted"),
	'0', 'the automatic backups are not encrypted');
my $log = slurp_file($node->logfile);
unlike($log, qr/is not encrypted: no encryption key is configured/, 'no job repeated the WARNING in the log');

# refuse: the next night's jobs fail before anything is written.
my $files = "SELECT count(*) FROM pg_ls_dir('pg_tenant_backup')";
my $files_before = sql($files);
$node->append_conf('postgresql.conf', "tenant_backup.unencrypted_backups = 'refuse'");
set_clock(2, 1, 59, 58);
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backup_status WHERE consecutive_failures > 0 "
		  . "AND last_error LIKE '%no encryption key is configured, and tenant_backup.unencrypted_backups is ''refuse''%'",
		'2'),
	'every job is refused, and the reason recorded for its tenant');
is(sql($autos), '4', 'no automatic backup was added');
is(sql($files), $files_before, 'and no file left behind in the repository');

$node->stop;
done_testing();
