# Cancel and timeout.
#
# A long backup stopped by pg_cancel_backend() or by statement_timeout fails promptly, leaves no
# catalog row and no temporary file (checked right after the error, with no later backup_create
# to sweep), and the same session can back up again.  A long restore stopped by statement_timeout
# leaves the tenant's rows as they were.
use strict;
use warnings FATAL => 'all';

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $n_rows = 200000;

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
# Backups are encrypted, as in production (a master key from a command; see 006 for key files).
$node->append_conf('postgresql.conf',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'");
$node->start;
my $repo = $node->data_dir . '/pg_tenant_backup';

sub repo_files
{
	my @files;
	return () unless -d $repo;
	find(sub { push @files, substr($File::Find::name, length($repo) + 1) if -f $_; }, $repo);
	return sort @files;
}
sub temporaries { return grep { /\.tmp$/ } repo_files(); }

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION tenant_backup;
CREATE TABLE big (tenant_id int NOT NULL, id int NOT NULL, pad text NOT NULL, PRIMARY KEY (tenant_id, id));
INSERT INTO big SELECT 1, g, md5(g::text) || md5((g + 1)::text) || repeat('x', 50)
    FROM generate_series(1, $n_rows) g;
INSERT INTO big SELECT 2, g, 'tenant two ' || g FROM generate_series(1, 100) g;
CREATE INDEX ON big (tenant_id);
});
my $catalog_sql = 'SELECT count(*) FROM tenant_backup.backups';

# Waits (bounded) until backend $pid is running a backup that has written $bytes of its archive.
sub wait_for_streaming
{
	my ($pid, $bytes) = @_;
	my $deadline = time + 60;
	while (time < $deadline)
	{
		my ($tmp) = grep { /\.s\d+p${pid}t\d+\.tmp$/ } temporaries();
		return $tmp if defined $tmp && -s "$repo/$tmp" >= $bytes;
		usleep(20_000);
	}
	return undef;
}

# Checks that a backup that just failed left nothing behind, and that the session works again.
sub check_failed_backup
{
	my ($s, $what, $label, $catalog_before) = @_;
	is(join(' ', temporaries()), '', "$what: no temporary file is left");
	is($node->safe_psql('postgres', $catalog_sql), $catalog_before, "$what: no catalog row was added");
	is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backups WHERE label = '$label'"),
		'0', "$what: no row with its label");
	$s->{stderr} = '';
	my $id = $s->query_safe("SET tenant_backup.compression_level = 3; SELECT tenant_backup.backup_create('1', 'after $label')");
	is( $node->safe_psql('postgres', "SELECT status || ':' || row_count FROM tenant_backup.backups WHERE id = $id"),
		"completed:$n_rows", "$what: the same session then takes a complete backup");
	return $id;
}

my $s = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $s->query_safe('SELECT pg_backend_pid()');

# 1. pg_cancel_backend() while the backup streams rows (zstd level 19 makes it take many seconds).
my $catalog_before = $node->safe_psql('postgres', $catalog_sql);
$s->query_until(
	qr/started/, q{
SET tenant_backup.compression_level = 19;
\echo started
SELECT tenant_backup.backup_create('1', 'cancelled');
});
ok(defined wait_for_streaming($pid, 200_000), 'the backup to cancel is streaming');
my $t0 = time;
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', 'pg_cancel_backend');
$s->query('SELECT 1');    # returns once psql is done with the backup
my $elapsed = time - $t0;
like($s->{stderr}, qr/canceling statement due to user request/, 'the backup was cancelled');
cmp_ok($elapsed, '<', 3, sprintf('the cancel took effect promptly (%.2f s)', $elapsed));
my $restore_id = check_failed_backup($s, 'cancelled backup', 'cancelled', $catalog_before);

# 2. statement_timeout.
$catalog_before = $node->safe_psql('postgres', $catalog_sql);
$s->{stderr} = '';
$s->query_safe('SET tenant_backup.compression_level = 19; SET statement_timeout = \'1s\'');
$t0 = time;
$s->query("SELECT tenant_backup.backup_create('1', 'timed out')");
$elapsed = time - $t0;
like($s->{stderr}, qr/canceling statement due to statement timeout/, 'the backup hit statement_timeout');
cmp_ok($elapsed, '<', 4, sprintf('it failed promptly (%.2f s for a 1 s timeout)', $elapsed));
$s->{stderr} = '';
$s->query_safe('RESET statement_timeout');
check_failed_backup($s, 'timed-out backup', 'timed out', $catalog_before);

# 3. statement_timeout during a restore.  Change the tenant so that the restore has work to do.
$node->safe_psql(
	'postgres', q{
UPDATE big SET pad = 'changed' WHERE tenant_id = 1 AND id % 10 = 0;
DELETE FROM big WHERE tenant_id = 1 AND id % 7 = 0;
INSERT INTO big SELECT 1, -g, 'new' FROM generate_series(1, 1000) g;
});
my $fingerprint_sql = q{SELECT count(*) || ':' || md5(string_agg(id || pad, ',' ORDER BY id)) FROM big WHERE tenant_id = %s};
my $t1_before = $node->safe_psql('postgres', sprintf($fingerprint_sql, 1));
my $t2_before = $node->safe_psql('postgres', sprintf($fingerprint_sql, 2));

# How long does the restore take when left alone?  (Rolled back.)
$t0 = time;
is( $node->safe_psql(
		'postgres',
		"BEGIN; SELECT sum(rows_restored) FROM tenant_backup.backup_restore($restore_id); ROLLBACK;"),
	$n_rows,
	'the restore works when not interrupted');
my $full = time - $t0;
my $timeout_ms = int($full * 1000 / 4);
$timeout_ms = 20 if $timeout_ms < 20;
note sprintf('an uninterrupted restore takes %.2f s; timeout set to %d ms', $full, $timeout_ms);

$s->{stderr} = '';
$s->query_safe("SET statement_timeout = '${timeout_ms}ms'");
$t0 = time;
$s->query("SELECT * FROM tenant_backup.backup_restore($restore_id)");
$elapsed = time - $t0;
like($s->{stderr}, qr/canceling statement due to statement timeout/, 'the restore hit statement_timeout');
cmp_ok($elapsed, '<', $timeout_ms / 1000 + 2, sprintf('it failed promptly (%.2f s)', $elapsed));
$s->{stderr} = '';
is($s->query_safe('RESET statement_timeout; SHOW session_replication_role'),
	'origin', 'the session is back to session_replication_role = origin');
is($node->safe_psql('postgres', sprintf($fingerprint_sql, 1)), $t1_before, 'tenant 1 is unchanged after the timed-out restore');
is($node->safe_psql('postgres', sprintf($fingerprint_sql, 2)), $t2_before, 'tenant 2 is unchanged');

# The same session can then restore for real.
is($s->query_safe("SELECT sum(rows_restored) FROM tenant_backup.backup_restore($restore_id)"),
	$n_rows, 'the session then restores the backup');
is($node->safe_psql('postgres', "SELECT count(*) || ':' || count(*) FILTER (WHERE pad = 'changed' OR id < 0) FROM big WHERE tenant_id = 1"),
	"$n_rows:0", 'the restore brought back the backed-up rows');
is($node->safe_psql('postgres', sprintf($fingerprint_sql, 2)), $t2_before, 'tenant 2 still unchanged');
is(join(' ', temporaries()), '', 'no temporary file at the end');

$s->quit;
$node->stop;
done_testing();
