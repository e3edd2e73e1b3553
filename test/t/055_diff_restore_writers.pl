# Issue 21: a restore that applies only the differences, with the tenant's application writing.
#
# The restore deletes the rows only live, inserts the rows only in the backup and updates the
# changed rows in place. What a writer that does not call tenant_writing sees (docs/CONCURRENCY.md
# "Restoring a live tenant"):
#  - a writer holding a changed row makes the restore wait; once it commits, the restore
#    overwrites its write (it committed before the restore's UPDATE reached the row);
#  - a writer's UPDATE of a row the restore changed waits for the restore, then finds the restored
#    row (UPDATE 1) and applies on top of it: the restore updated the row, it did not replace it;
#  - a writer's UPDATE of a row the restore left alone does not wait, and stays.
# A writer that calls tenant_writing first waits for the whole restore, as with every restore.
# A kill -9 of the restoring backend while it waits in the middle (some rows deleted, none updated
# yet) leaves the tenant exactly as before.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('diff_writers',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'\n"
	  . "tenant_backup.pre_restore_backup = off\n"
	  . "restart_after_crash = on\n");    # the kill -9 below: the postmaster restarts the cluster

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
CREATE TABLE items (tenant_id text NOT NULL, id int NOT NULL, v text NOT NULL, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'v' || g FROM unnest(ARRAY['1', '2']) t, generate_series(1, 1000) g;
});
my $b1 = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1')");
my $state_sql = q{SELECT md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM items WHERE tenant_id = '1'};
my $backup_state = $node->safe_psql('postgres', $state_sql);
# 1% changed since the backup: rows 1..6 edited, 7..8 deleted, 1001..1002 added.
my $change = q{UPDATE items SET v = 'edited' WHERE tenant_id = '1' AND id <= 6;
DELETE FROM items WHERE tenant_id = '1' AND id IN (7, 8);
INSERT INTO items VALUES ('1', 1001, 'new'), ('1', 1002, 'new');};
$node->safe_psql('postgres', $change);

my $restore = "SELECT string_agg(concat_ws(' ', only_in_backup, only_live, changed, unchanged), ';') "
  . "FROM tenant_backup.backup_restore($b1, dry_run => false) WHERE table_name = 'public.items'";
my @s = map { $node->background_psql('postgres', on_error_stop => 0) } 1 .. 3;
my @pid = map { $_->query_safe('SELECT pg_backend_pid()') } @s;
my $waiting = "SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE pid = %d";

# --- A writer holding a changed row: the restore waits, then overwrites it ------------------------
$s[1]->query_safe(q{BEGIN; UPDATE items SET v = 'writer, before' WHERE tenant_id = '1' AND id = 3});
$s[0]->query_until(qr/started/, qq{\\echo started
$restore;
\\echo done
});
ok($node->poll_query_until('postgres', sprintf($waiting, $pid[0]), 'Lock:transactionid'),
	'the restore waits for the writer that holds a changed row');
$s[1]->query_safe('COMMIT');
like($s[0]->query_until(qr/done/, ''), qr/2 2 6 992/, 'then applies the differences: 2 added, 2 removed, 6 changed');
is($node->safe_psql('postgres', $state_sql), $backup_state, 'the tenant is exactly the backup: the write is overwritten');

# --- A writer's UPDATE during the restore finds the restored row -----------------------------------
$node->safe_psql('postgres', $change);
like($s[0]->query_safe("BEGIN; $restore"), qr/2 2 6 992/, 'session 0 restores and keeps its transaction open');
$s[1]->{stdout} = '';
$s[1]->query_until(qr/started/, q{\echo started
UPDATE items SET v = v || ', then the writer' WHERE tenant_id = '1' AND id = 4 RETURNING 'updated ' || id;
\echo done
});
ok($node->poll_query_until('postgres', sprintf($waiting, $pid[1]), 'Lock:transactionid'),
	'an UPDATE of a row the restore changed waits for it');
is($s[2]->query_safe(q{UPDATE items SET v = 'untouched row, written' WHERE tenant_id = '1' AND id = 500 RETURNING id}),
	'500', 'an UPDATE of a row the restore left alone does not wait');
$s[0]->query_safe('COMMIT');
like($s[1]->query_until(qr/done/, ''), qr/updated 4/, 'the waiting UPDATE found the restored row (UPDATE 1)');
is($node->safe_psql('postgres', "SELECT v FROM items WHERE tenant_id = '1' AND id = 4"),
	'v4, then the writer', 'and applied on top of it');
is($node->safe_psql('postgres', "SELECT v FROM items WHERE tenant_id = '1' AND id = 500"),
	'untouched row, written', 'the write to the row left alone stays');

# --- A cooperating writer waits for the whole restore ---------------------------------------------
$node->safe_psql('postgres', "UPDATE items SET v = 'v500' WHERE tenant_id = '1' AND id = 500");
$node->safe_psql('postgres', "UPDATE items SET v = 'v4' WHERE tenant_id = '1' AND id = 4");
$node->safe_psql('postgres', $change);
$s[0]->query_safe("BEGIN; $restore");
$s[2]->{stdout} = '';
$s[2]->query_until(qr/started/, q{\echo started
BEGIN;
SELECT tenant_backup.tenant_writing('1');
UPDATE items SET v = 'cooperating' WHERE tenant_id = '1' AND id = 500;
COMMIT;
\echo done
});
ok($node->poll_query_until('postgres', sprintf($waiting, $pid[2]), 'Lock:advisory'),
	'a writer that calls tenant_writing waits, even for a row the restore left alone');
$s[0]->query_safe('COMMIT');
$s[2]->query_until(qr/done/, '');
is($node->safe_psql('postgres', "SELECT v FROM items WHERE tenant_id = '1' AND id = 500"),
	'cooperating', 'then writes after the restore');
$node->safe_psql('postgres', "UPDATE items SET v = 'v500' WHERE tenant_id = '1' AND id = 500");
is($node->safe_psql('postgres', $state_sql), $backup_state, 'the restore left the tenant exactly as the backup');

# --- kill -9 of the restoring backend in the middle -----------------------------------------------
$node->safe_psql('postgres', $change);
my $before = $node->safe_psql('postgres', $state_sql);
$s[1]->query_safe(q{BEGIN; SELECT v FROM items WHERE tenant_id = '1' AND id = 5 FOR UPDATE});
$s[0]->query_until(qr/started/, qq{\\echo started
$restore;
});
ok($node->poll_query_until('postgres', sprintf($waiting, $pid[0]), 'Lock:transactionid'),
	'the restore waits in the middle (rows only live deleted, changed rows not yet updated)');
kill 'KILL', $pid[0];
$_->quit for @s;
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server restarted after the crash');
is($node->safe_psql('postgres', $state_sql), $before, 'the tenant is exactly as before the restore');
is($node->safe_psql('postgres', "SELECT count(*) FROM items WHERE tenant_id = '2'"), '1000', 'and the other tenant too');

$node->stop;
done_testing();
