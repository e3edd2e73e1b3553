# Issue 21: restoring a live tenant, and undoing a restore.
#
# A writer that calls tenant_backup.tenant_writing(tenant) first in its transaction waits while a
# restore of that tenant runs, then writes on top of the restored rows: its UPDATE finds the
# restored row (UPDATE 1, never a silent UPDATE 0) and its INSERT is a write after the restore.
# Under REPEATABLE READ it fails instead with a serialization error it can retry. A restore
# waits for such a writer that started first. Writers of other tenants never wait. A crash in the
# middle of a restore leaves the tenant exactly as before (and no pre_restore backup). The
# scheduler deletes pre_restore backups older than tenant_backup.pre_restore_retention days.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('live_writers',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'\n");

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
CREATE TABLE items (tenant_id text NOT NULL, id int NOT NULL, v text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE notes (tenant_id text NOT NULL, msg text NOT NULL);
CREATE INDEX ON notes (tenant_id);
INSERT INTO items SELECT t, g, 'v' || g FROM unnest(ARRAY['1', '2']) t, generate_series(1, 200) g;
INSERT INTO notes VALUES ('1', 'first'), ('2', 'theirs');
});
my $b1 = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1')");
# Since the backup, the tenant's application changed rows.
$node->safe_psql('postgres', "UPDATE items SET v = 'edited' WHERE tenant_id = '1' AND id <= 50");
my $state_sql = q{SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (
    SELECT 'i' AS t, id::text AS k, v FROM items WHERE tenant_id = '1'
    UNION ALL SELECT 'n', msg, '' FROM notes WHERE tenant_id = '1') x};
my $backup_state = $node->safe_psql('postgres', qq{
    SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (
    SELECT 'i' AS t, g::text AS k, 'v' || g AS v FROM generate_series(1, 200) g
    UNION ALL SELECT 'n', 'first', '') x});

my @s = map { $node->background_psql('postgres', on_error_stop => 0) } 1 .. 3;
my @pid = map { $_->query_safe('SELECT pg_backend_pid()') } @s;
my $waiting = "SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE pid = %d";

# --- A cooperating writer waits for the restore, then writes on top of it -----------------------
is($s[0]->query_safe("BEGIN; SELECT sum(rows_restored) FROM tenant_backup.backup_restore($b1, dry_run => false)"),
	'201', 'session 0 restores tenant 1 and keeps its transaction open');
$s[1]->query_until(qr/started/, q{\echo started
BEGIN;
SELECT tenant_backup.tenant_writing('1');
UPDATE items SET v = 'written after' WHERE tenant_id = '1' AND id = 7 RETURNING 'updated ' || id;
INSERT INTO notes VALUES ('1', 'written during the restore');
COMMIT;
\echo done
});
ok($node->poll_query_until('postgres', sprintf($waiting, $pid[1]), 'Lock:advisory'),
	'the writer of tenant 1 waits on the tenant lock');
# Another tenant's writer, cooperating or not, does not wait.
like($s[2]->query_safe(q{BEGIN; SELECT tenant_backup.tenant_writing('2');
UPDATE items SET v = 'theirs' WHERE tenant_id = '2' AND id = 7; INSERT INTO notes VALUES ('2', 'also');
COMMIT; SELECT 'ok'}), qr/ok$/, 'a writer of tenant 2 does not wait for the restore of tenant 1');
$s[0]->query_safe('COMMIT');
my $written = $s[1]->query_until(qr/done/, '');
like($written, qr/updated 7/, 'the waiting UPDATE found the restored row (UPDATE 1, no lost write)');
is($node->safe_psql('postgres', "SELECT v FROM items WHERE tenant_id = '1' AND id = 7"),
	'written after', 'its change applies to the restored row');
is($node->safe_psql('postgres', "SELECT count(*) FROM items WHERE tenant_id = '1' AND v = 'edited'"),
	'0', 'the edits made before the restore are gone: the tenant was exactly the backup when it committed');
is($node->safe_psql('postgres', "SELECT string_agg(msg, ', ' ORDER BY msg) FROM notes WHERE tenant_id = '1'"),
	'first, written during the restore', 'the insert came after the restore, not before it');
my $undo = $node->safe_psql('postgres',
	"SELECT id FROM tenant_backup.backups WHERE kind = 'pre_restore' ORDER BY id DESC LIMIT 1");
ok($undo, "the restore kept a pre_restore backup ($undo)");
is($node->safe_psql('postgres', "SELECT sum(only_in_backup + only_live + changed) FROM tenant_backup.backup_diff($undo) d "
		. "WHERE d.table_name = 'public.items'"),
	'50', 'it holds the rows as the restore found them: the 50 edits it overwrote');

# --- A restore waits for a writer that started first ----------------------------------------------
$s[1]->{stdout} = '';
$s[1]->query_safe(q{BEGIN; SELECT tenant_backup.tenant_writing('1');
UPDATE items SET v = 'before the restore' WHERE tenant_id = '1' AND id = 8});
$s[0]->query_until(qr/started/, qq{\\echo started
SELECT sum(rows_restored) FROM tenant_backup.backup_restore($b1, dry_run => false, pre_restore_backup => false);
\\echo done
});
ok($node->poll_query_until('postgres', sprintf($waiting, $pid[0]), 'Lock:advisory'),
	'a restore waits for the writer that holds the tenant');
$s[1]->query_safe('COMMIT');
$s[0]->query_until(qr/done/, '');
is($node->safe_psql('postgres', $state_sql), $backup_state,
	'the restore then replaced the write committed before it: the tenant is exactly the backup');

# --- REPEATABLE READ: a clear error to retry ------------------------------------------------------
# (on a row the restore changes: one it leaves alone is the same row version, written as usual)
$node->safe_psql('postgres', "UPDATE items SET v = 'changed since' WHERE tenant_id = '1' AND id = 9");
$s[0]->query_safe("BEGIN; SELECT count(*) FROM tenant_backup.backup_restore($b1, dry_run => false, pre_restore_backup => false)");
$s[1]->{stderr} = '';
$s[1]->query_until(qr/started/, q{\echo started
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT tenant_backup.tenant_writing('1');
UPDATE items SET v = 'rr' WHERE tenant_id = '1' AND id = 9;
ROLLBACK;
\echo done
});
ok($node->poll_query_until('postgres', sprintf($waiting, $pid[1]), 'Lock:advisory'),
	'a REPEATABLE READ writer waits too');
$s[0]->query_safe('COMMIT');
$s[1]->query_until(qr/done/, '');
like($s[1]->{stderr}, qr/could not serialize access/, 'then fails with a serialization error it can retry');
is($node->safe_psql('postgres', "SELECT v FROM items WHERE tenant_id = '1' AND id = 9"), 'v9', 'and wrote nothing');

$_->quit for @s;

# --- A crash in the middle of a restore ----------------------------------------------------------
$node->safe_psql('postgres', "UPDATE items SET v = 'kept' WHERE tenant_id = '1' AND id <= 20; DELETE FROM notes WHERE tenant_id = '1'");
my $before = $node->safe_psql('postgres', $state_sql);
my $backups_before = $node->safe_psql('postgres', 'SELECT count(*) FROM tenant_backup.backups');
my $r = $node->background_psql('postgres', on_error_stop => 0);
$r->query_safe("BEGIN; SELECT count(*) FROM tenant_backup.backup_restore($b1, dry_run => false)");
$node->stop('immediate');
$r->quit;
$node->start;
is($node->safe_psql('postgres', $state_sql), $before, 'after a crash in the middle of a restore the tenant is exactly as before');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tenant_backup.backups'), $backups_before,
	'and its pre_restore backup is gone with it');

# --- Retention of pre_restore backups -------------------------------------------------------------
$node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_restore($b1, dry_run => false)");
my $kept = $node->safe_psql('postgres',
	"SELECT id FROM tenant_backup.backups WHERE kind = 'pre_restore' ORDER BY id DESC LIMIT 1");
$node->safe_psql('postgres',
	"UPDATE tenant_backup.backups SET created_at = now() - interval '8 days' WHERE kind = 'pre_restore' AND id <> $kept");
ok($node->poll_query_until('postgres',
		"SELECT count(*) FROM tenant_backup.backups WHERE kind = 'pre_restore'", '1'),
	'the scheduler deleted the pre_restore backups older than 7 days');
is($node->safe_psql('postgres', "SELECT id FROM tenant_backup.backups WHERE kind = 'pre_restore'"),
	$kept, 'and kept the recent one');
is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'delete' "
		. "AND error LIKE 'retention (pre_restore%'"),
	'1', 'audited as retention');

$node->stop;
done_testing();
