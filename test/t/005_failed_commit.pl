# A commit that fails after the archive was published.
#
# backup_create's archive is renamed into place in the pre-commit callback, but the commit can
# still fail later: a SERIALIZABLE transaction is checked for serialization failures after the
# pre-commit callbacks.  Such a backup has no catalog row, so its archive must not stay in the
# repository (the sweep of backup_create only removes *.tmp files: nothing would remove it).
use strict;
use warnings FATAL => 'all';

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('failed_commit');
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

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL);
CREATE INDEX ON items (tenant_id);
INSERT INTO items SELECT 1, g FROM generate_series(1, 100) g;
-- not a tenant table: the two transactions below make a write skew on it
CREATE TABLE skew (class int NOT NULL, v int NOT NULL);
INSERT INTO skew VALUES (1, 10), (2, 20);
});

my $s1 = $node->background_psql('postgres', on_error_stop => 0);
my $s2 = $node->background_psql('postgres', on_error_stop => 0);

# Session 2 reads class 2, writes class 1, and takes a backup; session 1 does the mirror image
# and commits first, which dooms session 2: its COMMIT fails after the pre-commit callbacks.
$s2->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT sum(v) FROM skew WHERE class = 2');
$s2->query_safe('INSERT INTO skew VALUES (1, 1)');
my $id = $s2->query_safe("SELECT tenant_backup.backup_create('1', 'doomed')");
$s1->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT sum(v) FROM skew WHERE class = 1');
$s1->query_safe('INSERT INTO skew VALUES (2, 1)');
$s1->query_safe('COMMIT');
$s2->query('COMMIT');
like($s2->{stderr}, qr/could not serialize access/, 'the backup\'s transaction fails at COMMIT');
# The error reaches the client before the abort is processed: wait for the session's next answer.
$s2->query('SELECT 1');

is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backups WHERE id = $id"),
	'0', 'the failed backup has no catalog row');
is(join(' ', repo_files()), '', 'and its archive is not left in the repository');

# A committed backup in the same session is kept, of course.
$s2->{stderr} = '';
$id = $s2->query_safe("SELECT tenant_backup.backup_create('1', 'kept')");
my $object = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $id");
# (with its record and its tenant's key beside it, docs/FORMAT.md "Repository records")
is(join(' ', grep { !m{/keys/.*\.key$} } repo_files()), "$object $object.record", 'a committed backup keeps its archive');
is(scalar(grep { m{/keys/.*\.key$} } repo_files()), 1, 'and its key record');
is( $node->safe_psql(
		'postgres',
		"BEGIN; SELECT sum(rows_restored) FROM tenant_backup.backup_restore($id); ROLLBACK;"),
	'100',
	'and restores');

$s1->quit;
$s2->quit;
$node->stop;
done_testing();
