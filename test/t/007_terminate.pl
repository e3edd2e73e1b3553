# Backends terminated (FATAL, no unwinding) in the middle of a backup, many times over.
#
# backup_create compresses, encrypts, hashes and writes on a helper thread. pg_terminate_backend
# ends the backend with proc_exit(), which does not unwind C++ frames: the helper thread must be
# stopped before exit() tears down the libraries it uses, or the backend crashes (SIGSEGV) and the
# postmaster restarts the whole cluster. Each round must end with a clean FATAL, no crash, and
# nothing left behind once the next backup has swept temporaries. The original race was rare (one
# crash in about 50 terminations of a larger backup), so this test guards the termination path in
# general; the mechanism itself (ThreadedSink::stop_all) is unit-tested deterministically.
use strict;
use warnings FATAL => 'all';

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('terminate');
$node->init;
$node->append_conf('postgresql.conf',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->start;
my $repo = $node->data_dir . '/pg_tenant_backup';

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE big (tenant_id int NOT NULL, id int NOT NULL, pad text NOT NULL);
CREATE INDEX ON big (tenant_id);
INSERT INTO big SELECT 1, g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 300000) g;
});

my $rounds = 30;
for my $round (1 .. $rounds)
{
	# Uncompressed, so that the helper thread has the most encrypting and writing to do.
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe("SET tenant_backup.compression_level = 0");
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->{stdin} .= "SELECT tenant_backup.backup_create('1');\n";
	$bg->{run}->pump_nb();
	# Terminate at a different moment each round (0 to 90 ms into the backup).
	usleep(10_000 * ($round % 10));
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	$bg->{run}->finish;
}

# No backend crashed: the postmaster never had to reinitialize.
my $log = slurp_file($node->logfile);
unlike($log, qr/server process \(PID \d+\) was terminated by signal/, 'no backend died of a signal');
unlike($log, qr/all server processes terminated; reinitializing/, 'the cluster never restarted');
like($log, qr/terminating connection due to administrator command/, 'backends were terminated');

# Rounds terminated in time recorded nothing; those that finished first must be whole.
my $recorded = $node->safe_psql('postgres', 'SELECT count(*) FROM tenant_backup.backups');
cmp_ok($recorded, '<', $rounds, "some rounds were terminated mid-backup ($recorded of $rounds finished first)");
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM tenant_backup.backups b,
		                 LATERAL tenant_backup.backup_verify(b.id) v WHERE NOT v.ok}),
	'0',
	'every backup that was recorded verifies');
# The next backup sweeps the temporaries of the terminated ones.
my $bid = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1')");
my @tmp;
find(sub { push @tmp, $_ if /\.tmp$/ }, $repo) if -d $repo;
is(scalar(@tmp), 0, 'no temporary file is left');
is($node->safe_psql('postgres', "SELECT ok FROM tenant_backup.backup_verify($bid)"), 't',
	'a backup after all that is whole');

$node->stop;
done_testing();
