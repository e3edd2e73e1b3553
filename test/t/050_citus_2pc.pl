# Citus (issue 15): a restore killed between the two phases of Citus's two-phase commit, after its
# worker prepared the transaction (PREPARE TRANSACTION) and before COMMIT PREPARED, and what
# Citus's recovery then does: every shard of the tenant is wholly the restored state or wholly the
# old one, never mixed, before and after the recovery. One cluster of a coordinator and two
# workers; the restored tenant is co-located (one worker). The restore is stopped in its commit
# with locks and a synchronous standby that never comes, never with timing:
# - before the coordinator's commit record: a session holding the lock that serializes NOTIFYing
#   commits (taken in PostgreSQL's commit after Citus's pre-commit, which prepares the workers)
#   makes the restore, which NOTIFYs too, wait there; kill -9 of its backend. Recovery
#   (recover_prepared_transactions()) rolls the prepared transaction back;
# - after the coordinator's commit record (synchronous_standby_names names a standby that never
#   connects; the restore's session asks for synchronous_commit = on): the commit waits for the
#   standby, after its commit record and before Citus's post-commit COMMIT PREPARED; kill -9 of its
#   backend. Recovery, by Citus's maintenance daemon, commits the prepared transaction; the
#   restore's pre_restore backup undoes it.
# Skipped with a clear line when Citus is not installed.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CitusCluster;

# No 2PC recovery but the test's own, until it turns the maintenance daemon's on. Commits wait for
# a synchronous standby only in sessions that ask for it (and only with WAL senders allowed).
my @nodes = citus_cluster(coordinator_conf => q{
restart_after_crash = on
wal_level = replica
max_wal_senders = 2
citus.recover_2pc_interval = -1
synchronous_standby_names = 'never_connects'
synchronous_commit = local
});
my ($coordinator, @workers) = @nodes;
sub sql { return $coordinator->safe_psql('postgres', $_[0]); }
citus_test_schema($coordinator);
sql('CREATE TABLE hold (n int)'); # no tenant column: in no backup

my $port7 = citus_worker_port($coordinator, 'ads', 7);
my ($worker7) = grep { $_->port == $port7 } @workers;
sub digests { return join ' | ', map { citus_shard_digests($coordinator, $_, $_[0]) } 'ads', 'clicks'; }
sub damage { sql("DELETE FROM clicks WHERE tenant_id = 7 AND id % 3 = 0; UPDATE ads SET title = 'changed' WHERE tenant_id = 7"); }
sub prepared { return join ',', map { $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') } @workers; }
sub prepared_gid { return $worker7->safe_psql('postgres', 'SELECT string_agg(gid, \',\') FROM pg_prepared_xacts'); }
sub recorded { return sql("SELECT count(*) FROM pg_dist_transaction WHERE gid = '$_[0]'"); }

my $tenant7 = digests('tenant_id = 7');
my $others = digests('tenant_id <> 7');
my $bid = sql("SELECT tenant_backup.backup_create('7')");
my $undo_backups = "SELECT count(*) FROM tenant_backup.backups WHERE kind = 'pre_restore' AND label = 'before restore of backup $bid'";
my $on_worker7 = $workers[0]->port == $port7 ? '1,0' : '0,1';

# Kills the coordinator's backend `pid` with SIGKILL; the coordinator restarts by itself.
sub kill_backend
{
	my ($pid, @sessions) = @_;
	kill 'KILL', $pid;
	eval { $_->quit } for @sessions;
	$coordinator->poll_query_until('postgres', 'SELECT true') or die 'the coordinator did not restart';
	return;
}

# --- Killed after PREPARE TRANSACTION on the worker, before the coordinator's commit record.
damage();
my $damaged = digests('tenant_id = 7');
my $holder = $coordinator->background_psql('postgres', on_error_stop => 0);
$holder->query_until(qr/holding/,
	"SET synchronous_commit = on;\nBEGIN;\nINSERT INTO hold VALUES (1);\nNOTIFY tb_hold;\n\\echo holding\nCOMMIT;\n");
$coordinator->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
  or die 'the holder does not wait for its standby';
my $restore = $coordinator->background_psql('postgres', on_error_stop => 0);
$restore->query_until(qr/started/,
	    "\\echo started\nBEGIN;\nSELECT pre_restore_backup_id FROM tenant_backup.backup_restore($bid, dry_run => false) LIMIT 1;\n"
	  . "NOTIFY tb_restore;\nCOMMIT;\n");
my $waits_to_notify = "FROM pg_locks WHERE locktype = 'object' AND classid = 'pg_database'::regclass AND objid = 0 AND NOT granted";
$coordinator->poll_query_until('postgres', "SELECT count(*) = 1 $waits_to_notify")
  or die 'the restore does not wait in its commit';
is(prepared(), $on_worker7, "the restore waits in its commit, its worker's transaction prepared");
my $gid = prepared_gid();
kill_backend(sql("SELECT pid $waits_to_notify"), $restore, $holder);
is(prepared(), $on_worker7, 'after kill -9 of the restoring backend, the worker still holds the prepared transaction');
is(recorded($gid), '0', 'the coordinator has no record of it (it never committed)');
is(digests('tenant_id = 7'), $damaged, 'until recovery, the tenant is wholly the old rows, shard by shard');
is(sql($undo_backups), '0', 'no pre_restore backup is recorded');
is(sql('SELECT recover_prepared_transactions()'), '1', "Citus's recovery finishes one prepared transaction");
is(prepared(), '0,0', 'nothing is left prepared');
is(digests('tenant_id = 7'), $damaged, 'it rolled back: the tenant is wholly as before the restore, shard by shard');
is(digests('tenant_id <> 7'), $others, 'other tenants are untouched');

# --- Killed after the coordinator's commit record, before COMMIT PREPARED on the worker.
$restore = $coordinator->background_psql('postgres', on_error_stop => 0);
$restore->query_until(qr/started/,
	"SET synchronous_commit = on;\n\\echo started\nSELECT pre_restore_backup_id FROM tenant_backup.backup_restore($bid, dry_run => false) LIMIT 1;\n");
$coordinator->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
  or die 'the restore does not wait for its standby';
is(prepared(), $on_worker7, "the restore's commit waits for the standby, its worker's transaction prepared");
$gid = prepared_gid();
kill_backend(sql("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'"), $restore);
is(sql($undo_backups), '1', "after kill -9 of the restoring backend, the coordinator's side is committed: its pre_restore backup is recorded");
is(recorded($gid), '1', "with Citus's record of the prepared transaction");
is(prepared(), $on_worker7, 'the worker still holds the prepared transaction');
is(digests('tenant_id = 7'), $damaged, 'until recovery, the tenant is wholly the old rows, shard by shard');
sql("ALTER SYSTEM SET citus.recover_2pc_interval = '1s'; SELECT pg_reload_conf()");
$coordinator->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_dist_transaction WHERE gid = '$gid'")
  or die "the maintenance daemon's recovery did not run";
is(prepared(), '0,0', "Citus's maintenance daemon finished the prepared transaction");
is(digests('tenant_id = 7'), $tenant7, 'it committed it: the tenant is wholly the restored backup, shard by shard');
is(digests('tenant_id <> 7'), $others, 'other tenants are untouched');
my $undo = sql("SELECT id FROM tenant_backup.backups WHERE kind = 'pre_restore' AND label = 'before restore of backup $bid'");
is(sql("SELECT sum(rows_restored) FROM tenant_backup.backup_restore($undo, dry_run => false, pre_restore_backup => false)"),
	sql("SELECT row_count FROM tenant_backup.backups WHERE id = $undo"), 'its pre_restore backup restores');
is(digests('tenant_id = 7'), $damaged, 'and brings back the tenant as it was before, shard by shard');

$_->stop for reverse @nodes;
done_testing();
