# backup_create called from a pg_cron job (the example in docs/SCHEDULES.md), when postgresql-15-cron is
# installed. pg_cron runs jobs in background workers (cron.use_background_workers), so no
# password or loopback connection is needed; tenant_backup needs no preloading for this.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => 'pg_cron is not installed (apt-get install postgresql-15-cron)'
  unless -e "$pkglibdir/pg_cron.so";

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row ' || g FROM generate_series(1, 2) t, generate_series(1, 50) g;
-- The example in docs/SCHEDULES.md: tenant 1 every minute (a real schedule would say '0 2 * * *').
SELECT cron.schedule('tenant-1-backup', '* * * * *',
                     $$SELECT tenant_backup.backup_create('1', 'pg_cron')$$);
});

# pg_cron's granularity is a minute: wait up to two.
my $done = 0;
for (1 .. 1300)
{
	$done = $node->safe_psql('postgres',
		"SELECT count(*) FROM tenant_backup.backups WHERE label = 'pg_cron' AND status = 'completed'");
	last if $done > 0;
	usleep(100_000);
}
ok($done > 0, 'the pg_cron job took a backup');
is( $node->safe_psql(
		'postgres', q{SELECT status || ' ' || return_message FROM cron.job_run_details ORDER BY runid LIMIT 1}),
	'succeeded SELECT 1',
	'pg_cron records the run as succeeded');
my $id = $node->safe_psql('postgres',
	"SELECT min(id) FROM tenant_backup.backups WHERE label = 'pg_cron' AND status = 'completed'");
is($node->safe_psql('postgres', "SELECT tenant || ' ' || row_count FROM tenant_backup.backups WHERE id = $id"),
	'1 50', 'the backup holds tenant 1');
is($node->safe_psql('postgres', "SELECT ok FROM tenant_backup.backup_verify($id)"), 't', 'and verifies');
is( $node->safe_psql(
		'postgres', "SELECT string_agg(action || ' ' || outcome, ', ' ORDER BY id) FROM tenant_backup.backup_audit "
		  . "WHERE backup_id = $id"),
	'create ok, verify ok', 'and is audited');

$node->stop;
done_testing();
