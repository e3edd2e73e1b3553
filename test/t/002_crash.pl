# A backend killed (SIGKILL) in the middle of a backup.
#
# The server goes through crash recovery.  The killed backup must leave no catalog row; its
# temporary archive "<name>.s<sysid>p<pid>.tmp" stays behind until the next backup_create, which
# removes temporaries of dead backends (and only those).  Afterwards the repository holds exactly
# the archives of the catalog's rows.
use strict;
use warnings FATAL => 'all';

use File::Copy;
use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# Backups are encrypted, as in production (a master key from a command; see 006 for key files).
$node->append_conf('postgresql.conf',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->start;
my $repo = $node->data_dir . '/pg_tenant_backup';

# Files below the repository, relative to it.
sub repo_files
{
	my @files;
	return () unless -d $repo;
	find(
		sub {
			push @files, substr($File::Find::name, length($repo) + 1) if -f $_;
		},
		$repo);
	return sort @files;
}
sub temporaries { return grep { /\.tmp$/ } repo_files(); }

# The repository holds exactly the archives of completed catalog rows, and their records.
sub repository_matches_catalog
{
	my ($what) = @_;
	my $catalog = $node->safe_psql('postgres',
		"SELECT string_agg(object_name, ' ' ORDER BY object_name) FROM tenant_backup.backups WHERE status = 'completed'"
	);
	# (each archive with the record issue 18 writes beside it; the tenants' key records aside)
	is(join(' ', grep { /\.tbk$/ } repo_files()), $catalog, "$what: the repository holds exactly the catalog's archives");
	is(join(' ', map { s/\.record$//r } grep { /\.record$/ } repo_files()), $catalog, "$what: and a record of each");
}

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE big (tenant_id int NOT NULL, id int NOT NULL, pad text NOT NULL);
INSERT INTO big SELECT 1, g, md5(g::text) || md5((g + 1)::text) || repeat('x', 50)
    FROM generate_series(1, 100000) g;
INSERT INTO big SELECT 2, g, 'small' FROM generate_series(1, 10) g;
CREATE INDEX ON big (tenant_id);
SELECT tenant_backup.backup_create('1');
SELECT tenant_backup.backup_create('2');
});
my $catalog_sql = 'SELECT count(*) || \'/\' || max(id) FROM tenant_backup.backups';
my $catalog_before = $node->safe_psql('postgres', $catalog_sql);
is($catalog_before, '2/2', 'two backups to start with');
repository_matches_catalog('before the crash');

# Start a slow backup (zstd level 19 takes many seconds for this tenant) in the background.
my $s = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $s->query_safe('SELECT pg_backend_pid()');
$s->query_until(
	qr/started/, q{
SET tenant_backup.compression_level = 19;
\echo started
SELECT tenant_backup.backup_create('1', 'killed');
});

# Wait (bounded) until the backup is running and has written a good part of its archive.
my $tmp_re = qr/\.s\d+p${pid}t\d+\.tmp$/;
my $tmp;
my $deadline = time + 60;
while (time < $deadline)
{
	($tmp) = grep { /$tmp_re/ } temporaries();
	last
	  if defined $tmp
	  && -s "$repo/$tmp" >= 200_000
	  && $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active' AND query LIKE '%backup_create%'"
	  ) == 1;
	undef $tmp;
	usleep(20_000);
}
ok(defined $tmp, 'the backup is running and writing ' . ($tmp // 'nothing'));
my $size_at_kill = defined $tmp ? -s "$repo/$tmp" : 0;
note "temporary file has $size_at_kill bytes when the backend is killed";

# Kill the backend and wait for crash recovery.
my $log_offset = -s $node->logfile;
ok(kill('KILL', $pid), "sent SIGKILL to backend $pid");
eval { $s->quit };    # psql lost its connection
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'the server is back after crash recovery');
ok($node->log_contains("server process \\(PID $pid\\) was terminated by signal 9", $log_offset),
	'the log shows the backend was killed');

# Nothing of the killed backup in the catalog.
is($node->safe_psql('postgres', $catalog_sql), $catalog_before, 'the catalog has no row for the killed backup');
is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backups WHERE label = 'killed'"),
	'0', 'no row with the killed backup\'s label');

# Its temporary file is still there: nothing but the sweep removes it.
ok(defined $tmp && -f "$repo/$tmp", 'the killed backend\'s temporary file survived the crash');

# The next backup (of another tenant) sweeps it.
my $id = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('2')");
is(join(' ', temporaries()), '', 'the next backup_create removed the stale temporary file');
repository_matches_catalog('after the sweep');

# And backups of the tenant work again and restore.
$id = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1', 'after crash')");
is( $node->safe_psql(
		'postgres',
		"BEGIN; SELECT sum(rows_restored) FROM tenant_backup.backup_restore($id); ROLLBACK;"),
	'100000',
	'a backup taken after the crash restores all rows');

# Second case: the backup is finished but its transaction has not committed (the archive is still
# a complete temporary file and the catalog row is uncommitted) when the backend dies; then the
# node is restarted before the next backup.
$s = $node->background_psql('postgres', on_error_stop => 0);
$pid = $s->query_safe('SELECT pg_backend_pid()');
my $open_id = $s->query_safe("BEGIN; SELECT tenant_backup.backup_create('2', 'uncommitted');");
$tmp_re = qr/\.s\d+p${pid}t\d+\.tmp$/;
($tmp) = grep { /$tmp_re/ } temporaries();
ok(defined $tmp, 'a backup in an open transaction exists only as a temporary file');
is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backups WHERE id = $open_id"),
	'0', 'its catalog row is not visible to others');

# Sweeping while that backend lives must not touch its file. A file with the same pid but
# another start time was left by an earlier backend whose pid this one reuses: it goes.
(my $reused = $tmp) =~ s/t\d+\.tmp$/t1.tmp/;
copy("$repo/$tmp", "$repo/$reused") or die "copy: $!";
$node->safe_psql('postgres', "SELECT tenant_backup.backup_create('2')");
ok(-f "$repo/$tmp", 'a sweep leaves the temporary file of a live backend alone');
ok(!-e "$repo/$reused", 'and removes one of an earlier backend with the same pid');

$log_offset = -s $node->logfile;
ok(kill('KILL', $pid), "sent SIGKILL to backend $pid");
eval { $s->quit };
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'the server is back after the second crash');
$node->restart;

is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backups WHERE id = $open_id OR label = 'uncommitted'"),
	'0', 'the uncommitted backup has no catalog row after the crash and a restart');
ok(-f "$repo/$tmp", 'its temporary file survived the restart');
$node->safe_psql('postgres', "SELECT tenant_backup.backup_create('2')");
is(join(' ', temporaries()), '', 'the next backup_create after the restart removed it');
repository_matches_catalog('at the end');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM tenant_backup.backups WHERE status <> 'completed'"),
	'0',
	'no running or failed rows were left behind');

$node->stop;
done_testing();
