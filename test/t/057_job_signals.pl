# Signals that reach only the job they are meant for, what an asynchronous job takes from the
# calling session, and calls of 0.1.0's functions after the upgrade (review of issues 19, 21, 23):
#   - backup_cancel of a job whose worker pid now belongs to another job's worker (its own worker
#     died, the kernel handed the pid on) ends that job as lost and leaves the other job running;
#   - tenant_backup.job_timeout's reaper does not signal such a pid either: neither for an
#     asynchronous job nor for a scheduled claim whose worker has moved on to its next tenant;
#   - an asynchronous job runs with the calling session's lock_timeout (it fails where the
#     synchronous call would) and TimeZone (a timestamp converted to timestamptz under schema
#     drift is the same instant as the synchronous restore gives);
#   - every positional and named call of a 0.1.0 function resolves, after ALTER EXTENSION
#     UPDATE, to the same function as in 0.1.0.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('job_signals',
	"timezone = 'UTC'\ntenant_backup.max_parallel = 1\ntenant_backup.unencrypted_backups = 'allow'\n");

# --- Calls of 0.1.0's functions keep their meaning after the upgrade --------------------------------
# Every positional call (each number of arguments its defaults allow), with typed NULLs and with
# the literals an application writes (1, true, unknown-typed '...'), and the named calls, each
# resolved by PostgreSQL as sql/include/reaches.sql shows (an ambiguous call is an error there).
$node->safe_psql('postgres', 'CREATE DATABASE probes');
my $probes = sub { return $node->safe_psql('probes', $_[0]); };
$probes->(q{
CREATE EXTENSION tenant_backup VERSION '0.1.0';
CREATE TABLE calls (call text PRIMARY KEY, before text, before_args text, before_nargs int, after text);
INSERT INTO calls (call)
SELECT DISTINCT format('tenant_backup.%I(%s)', p.proname, args.list)
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'tenant_backup'
CROSS JOIN LATERAL generate_series(p.pronargs - p.pronargdefaults, p.pronargs::int) AS n(k)
CROSS JOIN LATERAL (VALUES ('typed'), ('literal'), ('named')) AS form(f)
CROSS JOIN LATERAL (
    SELECT coalesce(string_agg(
        CASE form.f
          WHEN 'typed' THEN format('NULL::%s', a.t::regtype)
          WHEN 'literal' THEN CASE WHEN a.t IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN '1'
                                   WHEN a.t = 'boolean'::regtype THEN 'true' ELSE 'NULL' END
          ELSE format('%I => NULL::%s', p.proargnames[a.i], a.t::regtype) END, ', ' ORDER BY a.i), '') AS list
    FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i) WHERE a.i <= n.k) AS args
WHERE NOT EXISTS (SELECT FROM unnest(p.proargtypes::oid[]) t JOIN pg_type ty ON ty.oid = t WHERE ty.typtype = 'p')
  AND p.prorettype <> 'trigger'::regtype
  AND (form.f <> 'named' OR p.pronargs = 0 OR p.proargnames IS NOT NULL);
});
my $reaches = slurp_file("$FindBin::RealBin/../sql/include/reaches.sql");
$probes->("$reaches\nUPDATE calls SET before = pg_temp.reaches(call)");
$probes->("UPDATE calls c SET before_args = pg_get_function_identity_arguments(p.oid), before_nargs = p.pronargs "
	  . "FROM pg_proc p WHERE c.before NOT LIKE 'error%' AND p.oid = c.before::regprocedure");
cmp_ok($probes->('SELECT count(*) FROM calls'), '>=', 40, 'calls of every 0.1.0 function are probed');
is($probes->("SELECT string_agg(call || ': ' || before, E'\n') FROM calls WHERE before LIKE 'error%'"),
	'', 'each resolves in 0.1.0');
$probes->('ALTER EXTENSION tenant_backup UPDATE');
is($probes->("SELECT extversion FROM pg_extension WHERE extname = 'tenant_backup'"), '0.2.0', 'updated to 0.2.0');
$probes->("$reaches\nUPDATE calls SET after = pg_temp.reaches(call)");
# The same function, or (one that 0.2.0 made again with more parameters, each with a default) the
# function that replaced it: its parameters begin with the old one's, names and types.
is( $probes->(
		"SELECT string_agg(call || ': ' || before || ' -> ' || after, E'\\n' ORDER BY call) FROM calls "
		  . "WHERE after IS DISTINCT FROM before AND NOT coalesce(to_regprocedure(before) IS NULL "
		  . "AND (SELECT starts_with(pg_get_function_identity_arguments(p.oid), before_args || ', ') "
		  . "AND p.pronargs - p.pronargdefaults <= before_nargs FROM pg_proc p WHERE after NOT LIKE 'error%' AND p.oid = to_regprocedure(after)), false)"),
	'',
	'after the update every one resolves to the same function as in 0.1.0, or to the one that replaced it');

# --- Signals that reach only their job ------------------------------------------------------------
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2'), ('x');
SELECT tenant_backup.backup_exclude_table('registry');
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, note text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row ' || g FROM generate_series(1, 2) t, generate_series(1, 50) g;
});
my $backup = sql("SELECT tenant_backup.backup_create('1')");
sql("UPDATE items SET note = 'changed' WHERE tenant_id = 1");
my $state = "SELECT string_agg(id || note, ',' ORDER BY id) FROM items WHERE tenant_id = 1";
my $changed = sql($state);

sub job { return sql("SELECT state || coalesce(' ' || error, '') FROM tenant_backup.backup_jobs WHERE id = $_[0]"); }
my $waiting = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_backup async job' "
  . "AND wait_event_type = 'Lock'";

# Job B restores tenant 1 and waits for a row a session holds (from 10 s after the server's start:
# see A2 below).
my $age = sql("SELECT extract(epoch FROM now() - pg_postmaster_start_time())::int");
sleep(10 - $age) if $age < 10;
my $holder = $node->background_psql('postgres');
$holder->query_safe("BEGIN; SELECT 1 FROM items WHERE tenant_id = 1 AND id = 1 FOR UPDATE");
my $b = sql("SELECT tenant_backup.backup_restore_async($backup)");
ok(wait_for($waiting, '1'), 'job B runs and waits for the held row');
my $pid = sql("SELECT worker_pid FROM tenant_backup.backup_jobs WHERE id = $b");

# Job A: running, claimed by a worker that has died since, whose pid the kernel handed to B's
# worker (B's worker started after A's claim).
my $lost_job = sub {
	my ($claimed) = @_;
	return sql(
		"INSERT INTO tenant_backup.backup_jobs (kind, tenant, backup_id, requested_by, session_role, state, "
		  . "started_at, worker_pid) VALUES ('restore', '1', $backup, current_user::regrole, session_user::regrole, "
		  . "'running', $claimed, "
		  . "$pid) RETURNING id");
};
my $a = $lost_job->("(SELECT backend_start - interval '1 millisecond' FROM pg_stat_activity WHERE pid = $pid)");
is(sql("SELECT tenant_backup.backup_cancel($a)"), 'f', 'cancelling job A: it had ended (its worker is gone)');
like(job($a), qr/^failed interrupted: the job's worker exited/, 'job A is recorded lost');
usleep(500_000);
is(job($b), 'running', 'job B, whose worker has the pid A named, still runs');
is(sql($waiting), '1', 'its worker is still there, waiting');

# The same for the job_timeout reaper: a lost job A2 past the timeout (claimed at the server's
# start, 10 s or more ago, before B's worker started) is recorded lost, and B's worker is not
# terminated for it.
my $a2 = $lost_job->("pg_postmaster_start_time()");
$node->append_conf('postgresql.conf', "tenant_backup.job_timeout = 8\n");
$node->reload;
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $a2", 'failed'),
	'a lost job past job_timeout is recorded failed by the scheduler');
like(job($a2), qr/^failed interrupted: the job's worker exited/, 'as lost, not as terminated');
is(job($b), 'running', 'job B still runs');
is(sql($waiting), '1', 'its worker was not terminated');
$node->append_conf('postgresql.conf', "tenant_backup.job_timeout = 0\n");
$node->reload;
$holder->query_safe("COMMIT");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $b", 'completed'), 'job B completes');
my $restored = sql($state);
isnt($restored, $changed, 'and restored the tenant');

# A scheduled job worker W backs up tenant 1 (the only job at once: max_parallel = 1) and waits for
# a lock. A stale claim of tenant x names W too, older than W's claim of tenant 1: W has moved on
# (as a worker that could not record x's failure would have, before it stopped doing so). Past
# job_timeout, the stale claim is recorded lost, and W, busy with tenant 1, is not terminated.
$holder->query_safe("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
sql("SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *')");
set_clock(0, 1, 59, 57);
ok( wait_for(
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tenant_backup job' AND wait_event_type = 'Lock'",
		'1'),
	'a scheduled job worker waits for the lock');
my ($w, $claimed_tenant) = split /\|/,
  sql("SELECT running_pid, tenant FROM tenant_backup.schedule_state WHERE running_backup_id IS NOT NULL");
$age = sql("SELECT extract(epoch FROM now() - backend_start)::int FROM pg_stat_activity WHERE pid = $w");
sleep(10 - $age) if $age < 10;
sql("UPDATE tenant_backup.schedule_state SET running_backup_id = 999999999, running_pid = $w, "
	  . "last_attempt_at = (SELECT backend_start FROM pg_stat_activity WHERE pid = $w) WHERE tenant = 'x'; "
	  . "UPDATE tenant_backup.schedule_state SET last_attempt_at = clock_timestamp() WHERE tenant = '$claimed_tenant'");
$node->append_conf('postgresql.conf', "tenant_backup.job_timeout = 8\n");
$node->reload;
ok( wait_for(
		"SELECT running_backup_id IS NULL AND last_error LIKE 'interrupted%' FROM tenant_backup.schedule_state "
		  . "WHERE tenant = 'x'",
		't'),
	'the stale claim past job_timeout is recorded interrupted');
is(sql("SELECT count(*) FROM pg_stat_activity WHERE pid = $w"), '1', 'its pid\'s worker was not terminated');
is(sql("SELECT running_pid FROM tenant_backup.schedule_state WHERE tenant = '$claimed_tenant'"),
	$w, 'and still holds its own claim');
$node->append_conf('postgresql.conf', "tenant_backup.job_timeout = 0\n");
$node->reload;
$holder->query_safe("COMMIT");
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed' "
		  . "AND tenant = '$claimed_tenant'",
		'1'),
	'its backup completes once the lock is released');

# --- What an asynchronous job takes from the calling session ----------------------------------------
# lock_timeout: the job fails where the synchronous call would, instead of waiting. The held row
# differs from the backup, so that the restore (which writes only the differences) must write it.
sql("UPDATE items SET note = 'changed since the backup' WHERE tenant_id = 1 AND id = 1");
$holder->query_safe("BEGIN; SELECT 1 FROM items WHERE tenant_id = 1 AND id = 1 FOR UPDATE");
my $j = sql("SET lock_timeout = '300ms'; SELECT tenant_backup.backup_restore_async($backup)");
is(sql("SELECT settings->>'lock_timeout' FROM tenant_backup.backup_jobs WHERE id = $j"), '300ms',
	'the job carries the session\'s lock_timeout');
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $j", 'failed'),
	'a job under lock_timeout fails while the row is held');
like(job($j), qr/lock timeout/, 'saying so');
$holder->query_safe("COMMIT");
$holder->quit;

# TimeZone: a column of type timestamp then, timestamptz now, converts in the session's zone.
sql(q{
CREATE TABLE events (tenant_id int NOT NULL, id int PRIMARY KEY, at timestamp);
INSERT INTO events VALUES (1, 1, '2026-06-01 12:00'), (2, 2, '2026-06-01 12:00');
});
my $tz_backup = sql("SELECT tenant_backup.backup_create('1')");
sql("ALTER TABLE events ALTER COLUMN at TYPE timestamptz; UPDATE events SET at = now() WHERE tenant_id = 1");
my $instant = "SELECT extract(epoch FROM at)::bigint FROM events WHERE id = 1";
my $sync = sql("BEGIN; SET LOCAL TimeZone = 'Asia/Kolkata'; SELECT count(*) FROM tenant_backup.backup_restore($tz_backup); "
	  . "$instant; ROLLBACK") =~ s/.*\n//sr;
my $utc = sql("BEGIN; SET LOCAL TimeZone = 'UTC'; SELECT count(*) FROM tenant_backup.backup_restore($tz_backup); "
	  . "$instant; ROLLBACK") =~ s/.*\n//sr;
isnt($sync, $utc, 'the synchronous restore converts in the session\'s zone');
$j = sql("SET TimeZone = 'Asia/Kolkata'; SELECT tenant_backup.backup_restore_async($tz_backup)");
ok(wait_for("SELECT state FROM tenant_backup.backup_jobs WHERE id = $j", 'completed'), 'the asynchronous restore completes');
is(sql($instant), $sync, 'and converted in the calling session\'s zone, as the synchronous call did');

done_testing();
