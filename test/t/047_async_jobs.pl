# Asynchronous restores and backups (issue 19.8), with the library preloaded and a scheduler:
#   - backup_restore_async returns a job id at once; the restore waits for the submitting
#     transaction to commit; backup_progress shows it (kind restore, phase, tables, rows, job id)
#     to its submitter, who holds no backup.view; it completes, restores the tenant exactly, and
#     records its outcome and per-table counts; it ran as the submitter (audit);
#   - a role without backup.restore cannot submit one (refused, audited, no job); a job whose
#     worker cannot log in as the submitter (NOLOGIN since) is marked failed;
#   - a stranger cannot cancel another role's job (refused, audited), one that may not view the
#     tenant is told it does not exist;
#   - a job cancelled mid-way by its submitter rolls back: the tenant is exactly as before;
#   - a job whose worker is terminated, or that runs longer than tenant_backup.job_timeout, is
#     recorded failed, the tenant as before;
#   - a job whose worker is killed (SIGKILL: the server reinitializes) is marked failed by the
#     scheduler, the tenant as before;
#   - backup_create_async takes a backup as the submitter, recorded with the job.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('async', "restart_after_crash = on\n");

# Two tables of tenant rows: a_items (large, loaded first) and b_notes. A session holding a row
# lock on a tenant row of b_notes stops a restore mid-way: a_items restored, b_notes' DELETE
# waiting.
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2');
SELECT tenant_backup.backup_exclude_table('registry'); -- the scheduler's list, not tenant data
CREATE TABLE a_items (tenant_id int NOT NULL, id serial, pad text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE b_notes (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO a_items (tenant_id, pad) SELECT 1 + (g % 10 = 0)::int, md5(g::text) FROM generate_series(1, 200000) g;
INSERT INTO b_notes SELECT t, g, 'note ' || g FROM generate_series(1, 2) t, generate_series(1, 50) g;
CREATE ROLE app_admin LOGIN;
CREATE ROLE stranger LOGIN;
CREATE ROLE outsider LOGIN;
GRANT SELECT, INSERT, DELETE, UPDATE ON a_items, b_notes TO app_admin, stranger;
GRANT SELECT, UPDATE ON SEQUENCE a_items_id_seq TO app_admin, stranger;
SELECT tenant_backup.backup_grant('app_admin', 'backup.restore', '1');
SELECT tenant_backup.backup_grant('app_admin', 'backup.create', '1');
SELECT tenant_backup.backup_grant('stranger', 'backup.view', '1');
});

sub as_role
{
	my ($role, $query) = @_;
	return $node->psql('postgres', $query, extra_params => [ '-U', $role ], on_error_stop => 1);
}

sub as_role_ok
{
	my ($role, $query) = @_;
	my ($rc, $out, $err) = as_role($role, $query);
	die "as $role: $query: $err" if $rc;
	return $out;
}

my $state = q{SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'a' || id || pad AS x FROM a_items WHERE tenant_id = 1
  UNION ALL SELECT 'b' || id || coalesce(note, '') FROM b_notes WHERE tenant_id = 1) s};
my $other = q{SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'a' || id || pad AS x FROM a_items WHERE tenant_id = 2
  UNION ALL SELECT 'b' || id || coalesce(note, '') FROM b_notes WHERE tenant_id = 2) s};
my $backed_up = sql($state);
my $tenant_rows = sql("SELECT (SELECT count(*) FROM a_items WHERE tenant_id = 1) + "
	  . "(SELECT count(*) FROM b_notes WHERE tenant_id = 1)");
my $backup = sql("SELECT tenant_backup.backup_create('1')");
my $other_before = sql($other);

# The tenant changes after the backup.
sql("DELETE FROM a_items WHERE tenant_id = 1 AND id % 3 = 0; UPDATE b_notes SET note = 'changed' WHERE tenant_id = 1");
my $changed = sql($state);
isnt($changed, $backed_up, 'the tenant changed since its backup');

sub job { return sql("SELECT state || coalesce(' ' || error, '') FROM tenant_backup.backup_jobs WHERE id = $_[0]"); }

# A session holding a row of b_notes: a restore stops inside b_notes, after a_items.
sub hold_notes
{
	my $h = $node->background_psql('postgres');
	$h->query_safe("BEGIN; SELECT 1 FROM b_notes WHERE tenant_id = 1 AND id = 1 FOR UPDATE");
	return $h;
}
my $waiting = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_backup async job' "
  . "AND wait_event_type = 'Lock'";

# --- Refusals -------------------------------------------------------------------------------
my ($rc, $out, $err) = as_role('stranger', "SELECT tenant_backup.backup_restore_async($backup)");
like($err, qr/permission denied.*backup\.restore/, 'a role without backup.restore cannot submit a restore');
is(sql("SELECT count(*) FROM tenant_backup.backup_jobs"), '0', 'and no job was queued');
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'restore_async' AND outcome = 'denied' "
		  . "AND current_user_name = 'stranger'",
		'1'),
	'the refusal is audited');
($rc, $out, $err) = as_role('stranger', "SELECT tenant_backup.backup_create_async('1')");
like($err, qr/permission denied.*backup\.create/, 'nor an asynchronous backup without backup.create');

# A submitter whose role may no longer log in: the job's worker cannot log in as it, and the job
# is marked failed (by the scheduler's next pass), nothing restored.
my $session = $node->background_psql('postgres', extra_params => [ '-U', 'app_admin' ]);
sql("ALTER ROLE app_admin NOLOGIN");
my $job = $session->query_safe("SELECT tenant_backup.backup_restore_async($backup)");
$session->quit;
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'failed'),
	'a job whose worker cannot log in as the submitter is marked failed');
like(job($job), qr/its worker exited before starting the job: it could not log in/, 'saying why');
like(slurp_file($node->logfile), qr/role "app_admin" is not permitted to log in/, 'the server log has the reason');
sql("ALTER ROLE app_admin LOGIN");
is(sql($state), $changed, 'nothing was restored');

# --- A restore that completes -----------------------------------------------------------------
# Submitted in a transaction that is still open: the job waits for it.
my $audit_mark = sql("SELECT coalesce(max(id), 0) FROM tenant_backup.backup_audit");
my $submitter = $node->background_psql('postgres', extra_params => [ '-U', 'app_admin' ]);
$job = $submitter->query_safe("BEGIN; SELECT tenant_backup.backup_restore_async($backup)");
like($job, qr/^\d+$/, 'backup_restore_async returns a job id at once');
usleep(300_000);
is(sql($state), $changed, 'nothing is restored while the submitting transaction is open');
my $holder = hold_notes();
$submitter->query_safe("COMMIT");
ok(wait_for($waiting, '1'), 'after the commit the job runs, and waits inside b_notes');
is(job($job), 'running', 'the job is running');
my $progress = "SELECT kind || ' ' || backup_id || ' ' || phase || ' ' || current_table || ' ' || tables_done || '/' "
  . "|| tables_total || ' ' || rows_done || ' ' || job_id FROM tenant_backup.backup_progress";
my $a_rows = sql("SELECT count(*) FROM a_items WHERE tenant_id = 1");
my $a_archived = sql("SELECT (t->>'rows') FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t "
	  . "WHERE b.id = $backup AND t->>'name' = 'a_items'");
is(as_role_ok('app_admin', $progress), "restore $backup loading public.b_notes 1/2 $a_archived $job",
	'backup_progress shows the submitter its restore mid-way: phase, table, tables done, rows, job');
is(as_role_ok('outsider', "SELECT count(*) FROM tenant_backup.backup_progress"), '0', 'and not a stranger');
is(as_role_ok('outsider', "SELECT count(*) FROM tenant_backup.backup_jobs"), '0', 'nor the job to a stranger');
is(as_role_ok('app_admin', "SELECT state FROM tenant_backup.backup_job($job)"), 'running',
	'the submitter sees its job');

# Strangers cannot cancel it.
($rc, $out, $err) = as_role('stranger', "SELECT tenant_backup.backup_cancel($job)");
like($err, qr/permission denied: only the role that submitted tenant_backup job $job \(app_admin\)/,
	'a role that may view the tenant cannot cancel another role\'s job');
($rc, $out, $err) = as_role('outsider', "SELECT tenant_backup.backup_cancel($job)");
like($err, qr/tenant_backup job $job does not exist/, 'one that may not is told it does not exist');
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'cancel' AND outcome = 'denied'", '2'),
	'both refusals are audited');
$holder->query_safe("COMMIT");
$holder->quit;
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'completed'), 'the job completes');
is(sql($state), $backed_up, 'the tenant is exactly as backed up');
is(sql($other), $other_before, 'the other tenant is untouched');
is( sql("SELECT tables_done || ' ' || rows_done || ' ' || backup_id || ' ' || (finished_at >= started_at) "
		  . "FROM tenant_backup.backup_jobs WHERE id = $job"),
	"2 $tenant_rows $backup true",
	'its outcome is recorded: tables, rows, backup, times');
is( sql("SELECT string_agg(r->>'table' || ':' || (r->>'rows_restored'), ' ' ORDER BY r->>'table') "
		  . "FROM tenant_backup.backup_jobs j, jsonb_array_elements(j.result) r WHERE j.id = $job"),
	"public.a_items:$a_archived public.b_notes:50",
	'with the rows restored per table');
ok( wait_for(
		"SELECT string_agg(action || ' ' || outcome || ' ' || session_user_name || ' ' || current_user_name, ', ' "
		  . "ORDER BY id) FROM tenant_backup.backup_audit WHERE backup_id = $backup AND action LIKE 'restore%' "
		  . "AND outcome = 'ok' AND id > $audit_mark",
		'restore_async ok app_admin app_admin, restore ok app_admin app_admin'),
	'the submission and the restore are audited, the restore as the submitter');
is(sql("SELECT count(*) FROM tenant_backup.backup_progress"), '0', 'backup_progress is empty again');

# --- Cancelled mid-way: the tenant as before ----------------------------------------------------
sql("UPDATE b_notes SET note = 'changed again' WHERE tenant_id = 1; DELETE FROM a_items WHERE tenant_id = 1 AND id % 5 = 0");
my $before = sql($state);
$holder = hold_notes();
$job = as_role_ok('app_admin', "SELECT tenant_backup.backup_restore_async($backup)");
ok(wait_for($waiting, '1'), 'a second restore waits mid-way (a_items already replaced in its transaction)');
is(as_role_ok('app_admin', "SELECT tenant_backup.backup_cancel($job)"), 't', 'its submitter cancels it');
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'cancelled'), 'the job is cancelled');
$holder->query_safe("COMMIT");
$holder->quit;
like(job($job), qr/^cancelled cancelled by backup_cancel: nothing was restored$/, 'saying nothing was restored');
is(sql($state), $before, 'the tenant is exactly as before the cancelled restore');
is(as_role_ok('app_admin', "SELECT tenant_backup.backup_cancel($job)"), 'f', 'cancelling it again changes nothing');

# --- Terminated: recorded failed, the tenant as before -----------------------------------------------
$holder = hold_notes();
$job = as_role_ok('app_admin', "SELECT tenant_backup.backup_restore_async($backup)");
ok(wait_for($waiting, '1'), 'a third restore waits mid-way');
sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'tenant_backup async job'");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'failed'),
	'a job whose worker is terminated is recorded failed');
like(job($job), qr/terminated: its worker was stopped before it finished.*nothing was restored/, 'saying why');
$holder->query_safe("COMMIT");
$holder->quit;
is(sql($state), $before, 'the tenant is as before');

# --- tenant_backup.job_timeout: the scheduler ends a job running longer ---------------------------
$node->append_conf('postgresql.conf', "tenant_backup.job_timeout = 2\n");
$node->reload;
$holder = hold_notes();
$job = as_role_ok('app_admin', "SELECT tenant_backup.backup_restore_async($backup)");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'failed'),
	'a job running longer than tenant_backup.job_timeout is ended by the scheduler');
like(job($job), qr/terminated: .*tenant_backup\.job_timeout/, 'recorded as terminated');
cmp_ok(sql("SELECT extract(epoch FROM finished_at - started_at) FROM tenant_backup.backup_jobs WHERE id = $job"),
	'>=', 2, 'after the timeout, not before');
$holder->query_safe("COMMIT");
$holder->quit;
is(sql($state), $before, 'the tenant is as before');
$node->append_conf('postgresql.conf', "tenant_backup.job_timeout = 0\n");
$node->reload;

# --- Killed (SIGKILL): the server reinitializes, the scheduler marks the job failed ----------------
$holder = hold_notes();
$job = as_role_ok('app_admin', "SELECT tenant_backup.backup_restore_async($backup)");
ok(wait_for($waiting, '1'), 'a fourth restore waits mid-way');
my $victim = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'tenant_backup async job'");
kill 'KILL', $victim;
eval { $holder->quit; };
# The postmaster's crash handling first: a psql that got in just before it proves nothing.
for (1 .. 300)
{
	last if slurp_file($node->logfile) =~ /all server processes terminated; reinitializing/;
	usleep(100_000);
}
my $back = 0;
for (1 .. 300)
{
	# (psql may find the server going down while it writes: a broken pipe, tried again)
	last if ($back = eval { $node->psql('postgres', 'SELECT 1') == 0 });
	usleep(100_000);
}
ok($back, 'the server accepts connections again after the crash');
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'failed'),
	'the killed job is marked failed by the scheduler');
like(job($job), qr/^failed interrupted: the job's worker exited/, 'as interrupted');
is(sql($state), $before, 'the tenant is as before');

# --- An asynchronous backup ---------------------------------------------------------------------
$job = as_role_ok('app_admin', "SELECT tenant_backup.backup_create_async('1', 'from the settings page')");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $job", 'completed'),
	'an asynchronous backup completes');
my $taken = sql("SELECT backup_id FROM tenant_backup.backup_jobs WHERE id = $job");
is( sql("SELECT kind || ' ' || label || ' ' || row_count || ' ' || status FROM tenant_backup.backups WHERE id = $taken"),
	"manual from the settings page " . sql("SELECT rows_done FROM tenant_backup.backup_jobs WHERE id = $job")
	  . " completed",
	'its backup is recorded with the job (label, rows)');
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backup_audit WHERE backup_id = $taken AND action = 'create' "
		  . "AND outcome = 'ok' AND current_user_name = 'app_admin'",
		'1'),
	'taken as the submitter');

done_testing();
