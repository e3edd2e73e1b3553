# Asynchronous restores with backup_restore's options (issue 21, hB): the job runs the one entry
# of every restore with the options it was submitted with, so that:
#   - every asynchronous restore (the one-argument form too) first backs up the tenant as it is
#     (kind pre_restore, labelled with the restore it precedes) and records that backup's id in
#     the job (pre_restore_backup_id, and in each row of result); restoring it undoes the restore;
#   - pre_restore_backup => false, or tenant_backup.pre_restore_backup = off set in the
#     submitting session, takes none;
#   - mode => 'missing', tables => and rows => restore what the synchronous call restores, and the
#     job's result is the rows that call returns (compared with the call made in a transaction
#     rolled back);
#   - dry_run => true is a preview: nothing changes, no backup is taken, the result is the
#     preview's, audited as restore_preview.
# Without shared_preload_libraries (jobs need none), as 048.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = PostgreSQL::Test::Cluster->new('async_options');
$node->init;
$node->append_conf('postgresql.conf', "tenant_backup.unencrypted_backups = 'allow'\n");
$node->start;

use_node($node); # sql() and wait_for() of SchedulerTestClock ask it

# A job, run to its end: its id, once its state is final.
sub run_job
{
	my ($submit) = @_;
	my $job = sql($submit);
	wait_for("SELECT state IN ('completed', 'failed', 'cancelled') FROM tenant_backup.backup_jobs WHERE id = $job",
		't');
	return $job;
}

sub job_state
{
	return sql("SELECT state || coalesce(' ' || error, '') FROM tenant_backup.backup_jobs WHERE id = $_[0]");
}

# Projects and their tasks, for tenants 1 and 2.
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE projects (tenant_id int NOT NULL, id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE tasks (tenant_id int NOT NULL, id int PRIMARY KEY, project_id int NOT NULL REFERENCES projects,
                    title text NOT NULL);
CREATE INDEX ON projects (tenant_id);
CREATE INDEX ON tasks (tenant_id);
CREATE INDEX ON tasks (project_id);
INSERT INTO projects SELECT 1 + (g > 10)::int, g, 'project ' || g FROM generate_series(1, 20) g;
INSERT INTO tasks SELECT p.tenant_id, p.id * 100 + t, p.id, 'task ' || t FROM projects p, generate_series(1, 5) t;
});
my $state = q{SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'p' || id || name AS x FROM projects WHERE tenant_id = 1
  UNION ALL SELECT 't' || id || project_id || title FROM tasks WHERE tenant_id = 1) s};
my $other = $state =~ s/tenant_id = 1/tenant_id = 2/gr;
my $backed_up = sql($state);
my $other_before = sql($other);
my $backup = sql("SELECT tenant_backup.backup_create('1')");

# "The customer deleted a project an hour ago", and renamed another since.
my $damage = "DELETE FROM tasks WHERE project_id = 3; DELETE FROM projects WHERE id = 3; "
  . "UPDATE projects SET name = 'renamed' WHERE id = 5";
sql($damage);
my $damaged = sql($state);
isnt($damaged, $backed_up, 'the tenant changed since its backup');

my $pre_restores = "SELECT count(*) FROM tenant_backup.backups WHERE kind = 'pre_restore'";

# --- The one-argument form: the restore, after a pre_restore backup whose id the job records ----
my $job = run_job("SELECT tenant_backup.backup_restore_async($backup)");
is(job_state($job), 'completed', 'an asynchronous restore completes');
is(sql($state), $backed_up, 'the tenant is exactly as backed up');
is(sql($other), $other_before, 'the other tenant is untouched');
my $undo = sql("SELECT pre_restore_backup_id FROM tenant_backup.backup_jobs WHERE id = $job");
like($undo, qr/^\d+$/, 'the job records the pre_restore backup it took first');
is( sql("SELECT kind || ' ' || status || ' ' || tenant || ' ' || label || ' ' || row_count "
		  . "FROM tenant_backup.backups WHERE id = $undo"),
	"pre_restore completed 1 before restore of backup $backup 54",
	'a pre_restore backup of the tenant as it was (54 rows: a project and its 5 tasks gone), labelled');
is( sql("SELECT string_agg(DISTINCT (r->>'pre_restore_backup_id'), ',') FROM tenant_backup.backup_jobs j, "
		  . "jsonb_array_elements(j.result) r WHERE j.id = $job"),
	$undo, 'each row of its result names it, as backup_restore\'s options form returns it');

# Undo: the pre_restore backup restored, asynchronously, taking no backup of its own.
my $count = sql($pre_restores);
$job = run_job("SELECT tenant_backup.backup_restore_async($undo, dry_run => false, pre_restore_backup => false)");
is(job_state($job), 'completed', 'restoring the pre_restore backup completes');
is(sql($state), $damaged, 'and undoes the restore: the tenant as before it');
is(sql("SELECT pre_restore_backup_id IS NULL FROM tenant_backup.backup_jobs WHERE id = $job"),
	't', 'pre_restore_backup => false: the job records none');
is(sql($pre_restores), $count, 'and none was taken');

# The setting, SET in the submitting session, goes with the job.
$job = run_job("SET tenant_backup.pre_restore_backup = off; SELECT tenant_backup.backup_restore_async($backup)");
is(job_state($job), 'completed', 'a restore submitted with tenant_backup.pre_restore_backup = off completes');
is( sql("SELECT (pre_restore_backup_id IS NULL) || ' ' || (result->0->'pre_restore_backup_id' = 'null') "
		  . "FROM tenant_backup.backup_jobs WHERE id = $job"),
	'true true', 'and takes no pre_restore backup');
is(sql($pre_restores), $count, 'none at all');
is(sql($state), $backed_up, 'the tenant is as backed up');

# --- The options, as the synchronous call takes them -------------------------------------------
# The job's result is the rows the synchronous call returns: that call, made in a transaction
# rolled back, under each column's name (pre_restore_backup_id aside: another backup each time).
my $fields = q{table_name AS "table", rows_removed, rows_restored, only_in_backup, only_live, changed, unchanged};
# The call's rows, and the tenant's state after it.
sub sync_call
{
	my ($options) = @_;
	my $out = sql("BEGIN; CREATE TEMP TABLE sync_rows AS SELECT $fields FROM "
		  . "tenant_backup.backup_restore($backup, $options); "
		  . "SELECT jsonb_agg(to_jsonb(r) ORDER BY r.\"table\") FROM sync_rows r; $state; ROLLBACK;");
	return split /\n/, $out;
}
sub job_rows
{
	my ($id) = @_;
	return sql("SELECT jsonb_agg(r - 'pre_restore_backup_id' ORDER BY r->>'table') FROM tenant_backup.backup_jobs j, "
		  . "jsonb_array_elements(j.result) r WHERE j.id = $id");
}

sql($damage);
for my $case (
	[ "dry_run => false, mode => 'missing'",  'merge: the deleted project and its tasks come back, the rename stays' ],
	[ "dry_run => false, tables => '{projects}', mode => 'missing'", 'aimed at a table' ],
	[ "dry_run => false, rows => '{\"public.projects\": [{\"id\": 3}]}'", 'aimed at rows' ],
	[ "dry_run => false, strict => true", 'exact, strict' ])
{
	my ($options, $what) = @$case;
	sql($damage);
	my ($expected_rows, $expected_state) = sync_call($options);
	isnt($expected_state, sql($state), "$what: the synchronous call changes the tenant");
	my $before = sql($pre_restores);
	$job = run_job("SELECT tenant_backup.backup_restore_async($backup, $options)");
	is(job_state($job), 'completed', "$what: the job completes");
	is(sql($state), $expected_state, "$what: the tenant is as the synchronous call leaves it");
	is(job_rows($job), $expected_rows, "$what: the result is the rows the synchronous call returns");
	is( sql("SELECT b.kind || ' ' || b.label FROM tenant_backup.backup_jobs j JOIN tenant_backup.backups b "
			  . "ON b.id = j.pre_restore_backup_id WHERE j.id = $job"),
		"pre_restore before restore of backup $backup",
		"$what: after a pre_restore backup");
	is(sql($pre_restores), $before + 1, "$what: one");
}
is(sql("SELECT count(*) FROM projects WHERE tenant_id = 1 AND id = 3"), '1', 'project 3 is back');

# The merge keeps today's edits: checked on its own.
sql("UPDATE projects SET name = 'renamed' WHERE id = 5; DELETE FROM tasks WHERE project_id = 3; "
	  . "DELETE FROM projects WHERE id = 3");
$job = run_job("SELECT tenant_backup.backup_restore_async($backup, dry_run => false, mode => 'missing')");
is( sql("SELECT (SELECT name FROM projects WHERE id = 5) || ' ' || (SELECT count(*) FROM tasks WHERE project_id = 3)"),
	'renamed 5', 'mode => missing in a job: project 3 and its 5 tasks back, the rename kept');

# --- A preview in the background: nothing changes, no backup -------------------------------------
sql($damage);
my $now = sql($state);
my $before = sql($pre_restores);
my ($preview, $unchanged) = sync_call('dry_run => true');
is($unchanged, $now, 'a synchronous preview changes nothing');
my $mark = sql("SELECT max(id) FROM tenant_backup.backup_audit");
$job = run_job("SELECT tenant_backup.backup_restore_async($backup, dry_run => true)");
is(job_state($job), 'completed', 'a preview job completes');
is(sql($state), $now, 'and changes nothing');
is(sql($pre_restores), $before, 'nor takes a backup');
is(job_rows($job), $preview, 'its result is the preview');
like($preview, qr/"only_in_backup": 1/, '(which shows the project to bring back)');
is(sql("SELECT pre_restore_backup_id IS NULL FROM tenant_backup.backup_jobs WHERE id = $job"), 't',
	'it records no pre_restore backup');
is(sql("SELECT kind FROM tenant_backup.backup_jobs WHERE id = $job"), 'preview', 'and is listed as a preview');
ok( wait_for(
		"SELECT string_agg(action || ' ' || outcome, ',' ORDER BY id) FROM tenant_backup.backup_audit "
		  . "WHERE id > $mark AND action LIKE 'restore%'",
		'restore_async ok,restore_preview ok'),
	'audited as the submission and a preview');

# A job holds a worker slot: a role holding backup.view only is refused a preview job (which it
# may run in its own session) as well as a restore job; backup.restore allows both.
sql(q{CREATE ROLE viewer LOGIN;
GRANT SELECT, INSERT, DELETE ON projects, tasks TO viewer;
SELECT tenant_backup.backup_grant('viewer', 'backup.view', '1');});
my ($rc, $out, $err) =
  $node->psql('postgres', "SET ROLE viewer; SELECT count(*) FROM tenant_backup.backup_restore($backup, dry_run => true)");
is($rc, 0, 'a role holding backup.view previews in its own session');
($rc, $out, $err) =
  $node->psql('postgres', "SET ROLE viewer; SELECT tenant_backup.backup_restore_async($backup, dry_run => true)");
like($err, qr/permission denied.*backup\.restore/, 'but is refused a preview job');
($rc, $out, $err) =
  $node->psql('postgres', "SET ROLE viewer; SELECT tenant_backup.backup_restore_async($backup, dry_run => false)");
like($err, qr/permission denied.*backup\.restore/, 'and a restore job');
sql("SELECT tenant_backup.backup_grant('viewer', 'backup.restore', '1')");
$job = run_job("SET ROLE viewer; SELECT tenant_backup.backup_restore_async($backup, dry_run => true)");
is(job_state($job), 'completed', 'with backup.restore it runs a preview job');
is(sql($state), $now, 'the tenant unchanged');

done_testing();
