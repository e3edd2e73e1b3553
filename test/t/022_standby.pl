# Standbys and failover (issue 24), with a real streaming standby that shares the primary's
# repository directory (the shared-filesystem recipe of docs/STORAGE.md):
#   - every SQL function of the extension, enumerated from pg_proc so that a new one is not
#     missed, called on the hot standby: each either works or fails at once, and the writes fail
#     saying the server is a standby;
#   - the reads on the standby: list, status, download, CSV exports, verify (its outcome returned
#     and said to be unrecorded), each audited in the standby's server log;
#   - a backup none of whose copies survives a failover warns (once per session) while a standby
#     is attached, and backup_repository_check shows the repository as node_local;
#   - a promotion with a scheduled job in flight: the job is marked interrupted and retried on
#     the new primary; its first sync marks the copies that were on the old node only missing at
#     once (not within sync_interval), backup_status shows the tenant whose newest backup lost its
#     only copy as unprotected, and retention counts only backups with a stored copy;
#   - with Swift (TB_S3_HARNESS, as in 011_s3.pl): a backup whose S3 copy was a layer restores on
#     the new primary although its primary copy was on the old node only.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Path;
use Time::HiRes qw(time);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;
use SwiftHarness;

my $shared = PostgreSQL::Test::Utils::tempdir;    # the shared filesystem: both nodes' local repository
my $nodeonly = PostgreSQL::Test::Utils::tempdir . '/nodeonly';    # "on the old primary's disk only"

# S3 (optional): Swift started first, so that both nodes inherit the credentials.
my $s3 = swift_available();
my %s3;
if ($s3)
{
	%s3 = %{ swift_start($ENV{TB_S3_TAP_PORT_STANDBY} // 18280) };
	$ENV{AWS_ACCESS_KEY_ID} = $s3{TB_S3_ACCESS_KEY};
	$ENV{AWS_SECRET_ACCESS_KEY} = $s3{TB_S3_SECRET};
}
my $node = scheduler_node('standby_primary', "tenant_backup.repository = '$shared'\n", allows_streaming => 1);

sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row ' || g FROM generate_series(1, 2) t, generate_series(1, 10) g;
CREATE TABLE extra (tenant_id int NOT NULL, n int);
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('2');
CREATE ROLE reader LOGIN;
GRANT SELECT ON items, extra, registry TO reader;
SELECT tenant_backup.backup_grant('reader', 'backup.download', '1');
SELECT tenant_backup.backup_grant('reader', 'backup.view', '1');
});
sql("SELECT tenant_backup.backup_repository_add('nodeonly', 'file://$nodeonly')");
if ($s3)
{
	my $opts = qq{{"endpoint": "$s3{TB_S3_ENDPOINT}", "region": "us-east-1", "path_style": true}};
	sql("SELECT tenant_backup.backup_repository_add('offsite', 's3://$s3{TB_S3_BUCKET}/standby', '$opts')");
}
my ($rc, $before, $err) = $node->psql('postgres', q{SELECT tenant_backup.backup_create('1', 'before the standby')});
unlike($err, qr/survives a failover/, 'no standby yet: no failover warning');
my $out;

$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby_replica');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);

# Backups taken while the standby streams. Their only copies are in directories of local disks:
# one warning per session and repository.
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT tenant_backup.backup_create('1', 'after the standby'); SELECT tenant_backup.backup_create('2')});
my ($after, $two) = split /\n/, $out;
my $warnings = () = $err =~ /WARNING:  backup \d+ has no copy that survives a failover: repository "local" \(\Q$shared\E.*\) is on this node only, and 1 standby is attached/g;
is($warnings, 1, 'a backup with no copy that survives a failover warns, once per session');
like($err, qr/HINT:  Put the primary copy on a shared filesystem or in S3/, '... with the recipe');
like($node->safe_psql('postgres', q{SELECT string_agg(problem, ',') FROM tenant_backup.backup_repository_check('local')}),
	qr/^node_local$/, 'backup_repository_check shows the repository as node-local while a standby is attached');
my $s3_backup;
if ($s3)
{
	($rc, $s3_backup, $err) = $node->psql('postgres',
		q{SET tenant_backup.repositories = 'nodeonly, offsite'; SELECT tenant_backup.backup_create('1', 'S3 layer')});
	unlike($err, qr/survives a failover/, 'a backup with an S3 copy does not warn');
}
# The newest backup of tenant 1 has its only copy on this node's disk.
($rc, my $lost, $err) = $node->psql('postgres',
	q{SET tenant_backup.repositories = 'nodeonly'; SELECT tenant_backup.backup_create('1', 'node only')});
like($err, qr/backup $lost has no copy that survives a failover: repository "nodeonly"/, 'so does one in another local repository');
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
	'_foreign_key_graph()' => [ 'read', 'SELECT count(*) FROM tenant_backup._foreign_key_graph()' ],
	'_foreign_key_tables()' => [ 'read', 'SELECT count(*) FROM tenant_backup._foreign_key_tables()' ],
	'_ownership()' => [ 'read', 'SELECT count(*) FROM tenant_backup._ownership()' ],
	'_location(text,text,text)' => [ 'read', q{SELECT tenant_backup._location('local', 'x', '1')} ],
	'_refuse_drop()' => [ 'event_trigger', 'SELECT tenant_backup._refuse_drop()' ],
	'_forget_dropped_tables()' => [ 'trigger', 'SELECT tenant_backup._forget_dropped_tables()' ],
	'_schema_changed()' => [ 'trigger', 'SELECT tenant_backup._schema_changed()' ],
	'backup_attach(text,text,text,boolean,text,boolean)' => [ 'write', q{SELECT count(*) FROM tenant_backup.backup_attach('local')} ],
	'backup_repository_scan(text)' =>
	  [ 'read', q{SELECT count(*) FROM tenant_backup.backup_repository_scan('local')} ],
	'_refuse_on_standby(text)' => [ 'write', q{SELECT tenant_backup._refuse_on_standby('backup_create')} ],
	'_scheduler_clock_offset()' => [ 'read', 'SELECT tenant_backup._scheduler_clock_offset()' ],
	'_scheduler_serves()' => [ 'read', 'SELECT tenant_backup._scheduler_serves()' ],
	'_schedule_times(text,text,timestamp with time zone)' =>
	  [ 'read', q{SELECT count(*) FROM tenant_backup._schedule_times('1', NULL, NULL)} ],
	'backup_schedules(text)' => [ 'read', q{SELECT count(*) FROM tenant_backup.backup_schedules('1')} ],
	'_status_reader()' => [ 'read', 'SELECT tenant_backup._status_reader()' ],
	'_status_visible(text)' => [ 'read', q{SELECT tenant_backup._status_visible('1')} ],
	'_stored_tenant(text)' => [ 'read', q{SELECT tenant_backup._stored_tenant('1')} ],
	'_supported_tenant_type(regtype)' => [ 'read', q{SELECT tenant_backup._supported_tenant_type('int'::regtype)} ],
	'_tenant_column()' => [ 'read', 'SELECT tenant_backup._tenant_column()' ],
	'_tenant_table_candidates()' => [ 'read', 'SELECT count(*) FROM tenant_backup._tenant_table_candidates()' ],
	'_trusted_table_owner(oid)' => [ 'read', q{SELECT tenant_backup._trusted_table_owner(10)} ],
	'_wake_launcher()' => [ 'read', 'SELECT tenant_backup._wake_launcher()' ],
	'backup_create(text,text)' => [ 'write', q{SELECT tenant_backup.backup_create('1')} ],
	'backup_create_async(text,text)' => [ 'write', q{SELECT tenant_backup.backup_create_async('1')} ],
	'backup_cancel(bigint)' => [ 'write', 'SELECT tenant_backup.backup_cancel(1)' ],
	'backup_job(bigint)' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_job(1)' ],
	'backup_delete(bigint)' => [ 'write', "SELECT tenant_backup.backup_delete($before)" ],
	# issue 21: the diff loads the archive into temporary tables, which a standby cannot create
	'backup_diff(bigint,bigint)' => [ 'write', "SELECT count(*) FROM tenant_backup.backup_diff($after)" ],
	'backup_diff_rows(bigint,bigint,integer)' =>
	  [ 'write', "SELECT count(*) FROM tenant_backup.backup_diff_rows($after)" ],
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
	'backup_register_table(regclass,name,name)' =>
	  [ 'write', q{SELECT tenant_backup.backup_register_table('extra', 'tenant_id')} ],
	'backup_repositories()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_repositories()' ],
	'backup_repository_add(text,text,jsonb)' =>
	  [ 'write', q{SELECT tenant_backup.backup_repository_add('x', 'file:///nonexistent/x')} ],
	'backup_repository_check(text)' => [ 'read', q{SELECT count(*) FROM tenant_backup.backup_repository_check('local')} ],
	'backup_repository_remove(text)' => [ 'write', q{SELECT tenant_backup.backup_repository_remove('x')} ],
	'backup_repository_alter(text,text,jsonb,boolean)' =>
	  [ 'write', q{SELECT tenant_backup.backup_repository_alter('nodeonly', read_only => true)} ],
	'backup_restore(bigint)' => [ 'write', "SELECT count(*) FROM tenant_backup.backup_restore($before)" ],
	# issue 21: a preview too (temporary tables)
	'backup_restore(bigint,tenant_backup.named_boolean,boolean,text,regclass[],boolean,jsonb)' =>
	  [ 'write', "SELECT count(*) FROM tenant_backup.backup_restore($before, dry_run => true)" ],
	'backup_restore_into(bigint,name)' =>
	  [ 'write', "SELECT count(*) FROM tenant_backup.backup_restore_into($before, 'inspect')" ],
	'backup_restore(bigint,boolean)' => [ 'write', "SELECT count(*) FROM tenant_backup.backup_restore($before, strict => true)" ],
	'backup_drill(bigint)' => [ 'write', "SELECT count(*) FROM tenant_backup.backup_drill($before)" ],
	'backup_restore_async(bigint)' => [ 'write', "SELECT tenant_backup.backup_restore_async($before)" ],
	'backup_restore_async(bigint,boolean)' =>
	  [ 'write', "SELECT tenant_backup.backup_restore_async($before, true)" ],
	# issue 21: backup_restore's options, a preview too
	'backup_restore_async(bigint,tenant_backup.named_boolean,boolean,text,regclass[],boolean,jsonb)' =>
	  [ 'write', "SELECT tenant_backup.backup_restore_async($before, dry_run => true)" ],
	'backup_revoke(regrole,text,text)' => [ 'write', q{SELECT tenant_backup.backup_revoke('reader', 'backup.view', '1')} ],
	'backup_rotate_master_key()' => [ 'write', 'SELECT tenant_backup.backup_rotate_master_key()' ],
	'backup_schedule_remove(text)' => [ 'write', q{SELECT tenant_backup.backup_schedule_remove('1')} ],
	'backup_schedule_set(text,text,text,integer,integer,boolean,integer,integer,integer,integer,text)' =>
	  [ 'write', q{SELECT tenant_backup.backup_schedule_set('1', '0 3 * * *')} ],
	'backup_schedules()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_schedules()' ],
	'backup_sync()' => [ 'write', 'SELECT count(*) FROM tenant_backup.backup_sync()' ],
	'backup_table_gaps()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_table_gaps()' ],
	'backup_tables()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_tables()' ],
	'backup_unowned_rows()' => [ 'read', 'SELECT count(*) FROM tenant_backup.backup_unowned_rows()' ],
	'backup_verify(bigint)' => [ 'read', "SELECT ok FROM tenant_backup.backup_verify($after)" ],
	'tenant_writing(text)' => [ 'write', q{SELECT tenant_backup.tenant_writing('1')} ],
	'tenant_export_csv(text,regclass)' => [ 'read', q{SELECT count(*) FROM tenant_backup.tenant_export_csv('1', 'items')} ],
);
my @functions = split /\n/, $standby->safe_psql(
	'postgres', q{
SELECT regexp_replace(p.oid::regprocedure::text, '^tenant_backup\.', '')
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'tenant_backup'
ORDER BY 1});
cmp_ok(scalar(@functions), '>=', 41, 'the extension\'s functions are enumerated from pg_proc');
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
	elsif ($kind eq 'write_pg')
	{
		like($err, qr/cannot execute INSERT in a read-only transaction/, "$f fails as a write on the standby");
	}
	elsif ($kind eq 'event_trigger')
	{
		like($err, qr/event trigger/, "$f is an event trigger function");
	}
	else
	{
		like($err, qr/can only be called as triggers/, "$f is a trigger function");
	}
}

# --- The reads on the standby, in detail -----------------------------------------------------
($rc, $out, $err) = on_standby("SET ROLE reader; SELECT ok, rows FROM tenant_backup.backup_verify($after)");
is($out, 't|10', 'verify on the standby returns its outcome');
like($err, qr/NOTICE:  the outcome of verifying backup $after was not recorded: the server is a hot standby/,
	'... and says it was not recorded');
is($standby->safe_psql('postgres', "SELECT verified_at IS NULL FROM tenant_backup.backups WHERE id = $after"),
	't', '... nor is it');
is($standby->safe_psql('postgres', "SET ROLE reader; SELECT count(*) FROM tenant_backup.backup_export_csv($after, 'items')"),
	'11', 'a CSV export of a backup taken after the standby was built (the shared repository)');
is($standby->safe_psql('postgres', "SELECT string_agg(tenant || ':' || last_backup_id, ' ' ORDER BY tenant) FROM tenant_backup.backup_status"),
	"1:$lost 2:$two", 'backup_status on the standby');
is($standby->safe_psql('postgres', "SET ROLE reader; SELECT count(*) > 0 FROM tenant_backup.backup_download($after)"),
	't', 'a download by a role with backup.download');
my $standby_log = slurp_file($standby->logfile);
for my $action ('download', 'export_csv', 'verify')
{
	like($standby_log,
		qr/tenant_backup audit: NOT RECORDED in tenant_backup\.backup_audit \(the server is a hot standby\): action=$action outcome=ok .*current_user="reader"/,
		"the standby's log audits the $action");
}

# --- A promotion with a scheduled job in flight -----------------------------------------------
# Tenant 2 keeps its last two automatic backups. Night 1 goes to the shared repository, night 2
# only to the old primary's disk, night 3 is in flight (blocked by a lock) when the primary dies.
sub clock_at    # the scheduler's clock on both nodes (the standby's after its promotion)
{
	my ($day, $h, $m, $s) = @_;
	my $line = "tenant_backup.scheduler_clock_offset = " . ($today + $day * 86400 + $h * 3600 + $m * 60 + $s - int(time()));
	for my $n ($node, $standby) { $n->append_conf('postgresql.conf', $line); $n->reload; }
}
clock_at(1, 1, 59, 58);
sql(q{SELECT tenant_backup.backup_schedule_set('2', '0 2 * * *', keep_last => 2)});
ok(wait_for(q{SELECT count(*) FROM tenant_backup.backups WHERE tenant = '2' AND kind = 'auto' AND status = 'completed'}, '1'), 'night 1');
my $night1 = sql(q{SELECT max(id) FROM tenant_backup.backups WHERE kind = 'auto'});
sql(q{SELECT tenant_backup.backup_schedule_set('2', '0 2 * * *', keep_last => 2, repositories => 'nodeonly')});
clock_at(2, 1, 59, 58);
ok(wait_for(q{SELECT count(*) FROM tenant_backup.backups WHERE tenant = '2' AND kind = 'auto' AND status = 'completed'}, '2'), 'night 2, on the old node only');
my $night2 = sql(q{SELECT max(id) FROM tenant_backup.backups WHERE kind = 'auto'});
sql(q{SELECT tenant_backup.backup_schedule_set('2', '0 2 * * *', keep_last => 2, repositories => 'local')});
my $locker = $node->background_psql('postgres', on_error_stop => 0);
$locker->query_safe("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
clock_at(3, 1, 59, 58);
ok(wait_for(q{SELECT count(*) FROM tenant_backup.schedule_state WHERE tenant = '2' AND running_pid IS NOT NULL}, '1'),
	'night 3 is running');
my $night3 = sql(q{SELECT running_backup_id FROM tenant_backup.schedule_state WHERE tenant = '2'});
$node->wait_for_catchup($standby);
$node->stop('immediate');
eval { $locker->quit };
File::Path::rmtree($nodeonly);    # the old node is gone, with its disk

$standby->promote;
my $promoted = time;
my $primary = $standby;
use_node($primary);    # sql() and wait_for() ask the new primary
ok(wait_for("SELECT status || ' ' || (error LIKE 'interrupted:%') FROM tenant_backup.backups WHERE id = $night3", 'failed true'),
	'the job in flight is marked interrupted on the new primary');
ok(wait_for(qq{SELECT count(*) FROM tenant_backup.backup_copies WHERE repository = 'nodeonly' AND state = 'missing' AND backup_id IN ($lost, $night2)}, '2'),
	'the first sync after the promotion marks the copies of the old node missing');
cmp_ok(time - $promoted, '<', 60, '... at once, not within sync_interval (an hour)');
ok(wait_for(qq{SELECT count(*) FROM tenant_backup.backups WHERE tenant = '2' AND kind = 'auto' AND status = 'completed' AND id > $night3}, '1'),
	'the interrupted job is retried on the new primary');
is(sql(q{SELECT string_agg(tenant || ':' || unprotected, ' ' ORDER BY tenant) FROM tenant_backup.backup_status}),
	'1:true 2:false', 'backup_status: the tenant whose newest backup lost its only copy is unprotected');
is(sql(qq{SELECT string_agg(id::text, ' ' ORDER BY id) FROM tenant_backup.backups WHERE tenant = '2' AND kind = 'auto' AND status = 'completed' AND id <= $night2}),
	"$night1 $night2",
	'retention (keep_last 2) did not count the backup without a stored copy: night 1 is kept');
like(sql("SELECT tenant_backup.backup_create('1')"), qr/^\d+$/, 'backups go on on the new primary');
is(sql(q{SELECT unprotected FROM tenant_backup.backup_status WHERE tenant = '1'}), 'f', '... and protect the tenant again');

if ($s3)
{
	sql(q{DELETE FROM items WHERE tenant_id = 1});
	is(sql("SELECT sum(rows_restored) FROM tenant_backup.backup_restore($s3_backup)"), '10',
		'a backup whose copy in S3 was a layer restores on the new primary');
	is(sql(q{SELECT count(*) FROM items WHERE tenant_id = 1}), '10', '... all its rows');
}

$primary->stop;
swift_stop();
done_testing();
