# Standbys and failover (issue 24), with a real streaming standby that shares the primary's
# repository directory (the shared-filesystem recipe of docs/STORAGE.md):
#   - every SQL function of the extension, enumerated from pg_proc so that a new one is not
#     missed, called on the hot standby: each either works or fails at once, and the writes fail
#     saying the server is a standby;
#   - the reads on the standby: list, status, download, CSV exports, verify (its outcome returned
#     and said to be unrecorded), each audited in the standby's server log;
#   - backup_repository_check and a backup warn that the primary copy is node-local while a
#     standby is attached.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $shared = PostgreSQL::Test::Utils::tempdir;
my $node = scheduler_node('standby_primary', "tenant_backup.tenant_registry = ''\ntenant_backup.repository = '$shared'\n",
	allows_streaming => 1);

sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row ' || g FROM generate_series(1, 2) t, generate_series(1, 10) g;
CREATE TABLE extra (tenant_id int NOT NULL, n int);
CREATE ROLE reader LOGIN;
GRANT SELECT ON items, extra TO reader;
SELECT tenant_backup.backup_grant('reader', 'backup.download', '1');
SELECT tenant_backup.backup_grant('reader', 'backup.view', '1');
});
my $before = sql("SELECT tenant_backup.backup_create('1', 'before the standby')");

$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby_replica');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;

# A backup taken after the standby was built.
my $after = sql("SELECT tenant_backup.backup_create('1', 'after the standby')");
$node->wait_for_catchup($standby);

sub on_standby
{
	my ($query, %opts) = @_;
	my $started = time;
	my ($rc, $out, $err) = $standby->psql('postgres', $query, timeout => 60, %opts);
	return ($rc, $out, $err, time - $started);
}

# --- Every SQL function on the standby ---------------------------------------------------------
# The call made for each function, and whether it reads ('read': it works) or writes ('write': it
# fails at once saying the server is a standby). A function missing here fails the test.
my %calls = (
	'_audit_append_only()' => [ 'trigger', 'SELECT tenant_backup._audit_append_only()' ],
	'_backup_progress()' => [ 'read', 'SELECT count(*) FROM tenant_backup._backup_progress()' ],
	'_may(text,text)' => [ 'read', q{SELECT tenant_backup._may('backup.view', '1')} ],
	'_refuse_on_standby(text)' => [ 'write', q{SELECT tenant_backup._refuse_on_standby('backup_create')} ],
	'_scheduler_clock_offset()' => [ 'read', 'SELECT tenant_backup._scheduler_clock_offset()' ],
	'_stored_tenant(text)' => [ 'read', q{SELECT tenant_backup._stored_tenant('1')} ],
	'_supported_tenant_type(regtype)' => [ 'read', q{SELECT tenant_backup._supported_tenant_type('int'::regtype)} ],
	'_tenant_column()' => [ 'read', 'SELECT tenant_backup._tenant_column()' ],
	'_tenant_table_candidates()' => [ 'read', 'SELECT count(*) FROM tenant_backup._tenant_table_candidates()' ],
	'_trusted_table_owner(oid)' => [ 'read', q{SELECT tenant_backup._trusted_table_owner(10)} ],
	'backup_create(text,text)' => [ 'write', q{SELECT tenant_backup.backup_create('1')} ],
	'backup_delete(bigint)' => [ 'write', "SELECT tenant_backup.backup_delete($before)" ],
	'backup_download(bigint)' => [ 'read', "SELECT count(*) FROM tenant_backup.backup_download($after)" ],
	'backup_exclude_table(regclass)' => [ 'write', q{SELECT tenant_backup.backup_exclude_table('extra')} ],
	'backup_export_csv(bigint,regclass)' =>
	  [ 'read', "SELECT count(*) FROM tenant_backup.backup_export_csv($after, 'items')" ],
	'backup_forget_tenant(text)' => [ 'write', q{SELECT tenant_backup.backup_forget_tenant('2')} ],
	'backup_grant(regrole,text,text)' => [ 'write', q{SELECT tenant_backup.backup_grant('reader', 'backup.restore', '1')} ],
	'backup_grants()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_grants()' ],
	'backup_import(text)' => [ 'write', q{SELECT tenant_backup.backup_import('{}')} ],
	'backup_import_large_object(oid)' => [ 'write', 'SELECT tenant_backup.backup_import_large_object(1)' ],
	'backup_list(text)' => [ 'read', q{SELECT count(*) FROM tenant_backup.backup_list('1')} ],
	'backup_register_table(regclass,name)' =>
	  [ 'write', q{SELECT tenant_backup.backup_register_table('extra', 'tenant_id')} ],
	'backup_repositories()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_repositories()' ],
	'backup_repository_add(text,text,jsonb)' =>
	  [ 'write', q{SELECT tenant_backup.backup_repository_add('x', 'file:///nonexistent/x')} ],
	'backup_repository_check(text)' => [ 'read', q{SELECT count(*) FROM tenant_backup.backup_repository_check('local')} ],
	'backup_repository_remove(text)' => [ 'write', q{SELECT tenant_backup.backup_repository_remove('x')} ],
	'backup_restore(bigint)' => [ 'write', "SELECT count(*) FROM tenant_backup.backup_restore($before)" ],
	'backup_revoke(regrole,text,text)' => [ 'write', q{SELECT tenant_backup.backup_revoke('reader', 'backup.view', '1')} ],
	'backup_rotate_master_key()' => [ 'write', 'SELECT tenant_backup.backup_rotate_master_key()' ],
	'backup_schedule_remove(text)' => [ 'write', q{SELECT tenant_backup.backup_schedule_remove('1')} ],
	'backup_schedule_set(text,text,text,integer,integer,boolean,integer,integer,integer,integer,text)' =>
	  [ 'write', q{SELECT tenant_backup.backup_schedule_set('1', '0 3 * * *')} ],
	'backup_schedules()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_schedules()' ],
	'backup_sync()' => [ 'write', 'SELECT count(*) FROM tenant_backup.backup_sync()' ],
	'backup_table_gaps()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_table_gaps()' ],
	'backup_tables()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_tables()' ],
	'backup_verify(bigint)' => [ 'read', "SELECT ok FROM tenant_backup.backup_verify($after)" ],
	'tenant_export_csv(text,regclass)' => [ 'read', q{SELECT count(*) FROM tenant_backup.tenant_export_csv('1', 'items')} ],
);
my @functions = split /\n/, $standby->safe_psql(
	'postgres', q{
SELECT regexp_replace(p.oid::regprocedure::text, '^tenant_backup\.', '')
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'tenant_backup'
ORDER BY 1});
cmp_ok(scalar(@functions), '>=', 36, 'the extension\'s functions are enumerated from pg_proc');
for my $f (@functions)
{
	my $case = $calls{$f};
	if (!$case)
	{
		fail("$f has a standby case in this test");
		next;
	}
	my ($kind, $query) = @$case;
	my ($rc, $out, $err, $seconds) = on_standby($query);
	cmp_ok($seconds, '<', 10, "$f returns at once on the standby");
	if ($kind eq 'read')
	{
		is($rc, 0, "$f works on the standby") or diag($err);
	}
	elsif ($kind eq 'write')
	{
		like($err, qr/cannot run on a hot standby.*\n.*HINT:  Call it on the primary/s,
			"$f fails saying the server is a standby");
	}
	else
	{
		like($err, qr/can only be called as triggers/, "$f is a trigger function");
	}
}

$standby->stop;
$node->stop;
done_testing();
