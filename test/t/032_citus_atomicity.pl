# Citus (issue 15): what a backup's snapshot and a restore's atomicity are, across one worker and
# across several, proved on a real cluster of a coordinator and two workers (one cluster for the
# whole file). Interleavings are forced with locks on the workers' shards, never with timing:
# - a restore while another session writes the same tenant, and while other tenants are written:
#   each writer's transaction is wholly there or wholly not, the restored rows are exactly the
#   backup's, other tenants keep every row they wrote;
# - a restore killed mid-way (kill -9 of its coordinator backend while it waits on the worker, after
#   it deleted another table there): no half-restored tenant on any worker, checked shard by shard,
#   nothing left prepared;
# - a worker stopped during a backup and during a restore: a clear error, and nothing lost;
# - a co-located tenant's backup reads its worker under one snapshot, even at READ COMMITTED; a
#   tenant spread over two workers is read under one snapshot per worker, which need not be the
#   same instant (what Citus does not guarantee, shown).
# Skipped with a clear line when Citus is not installed.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use CitusCluster;

my @nodes = citus_cluster();
my ($coordinator, @workers) = @nodes;
sub sql { return $coordinator->safe_psql('postgres', $_[0]); }
# A backend killed with SIGKILL: the coordinator restarts by itself.
$coordinator->append_conf('postgresql.conf', "restart_after_crash = on\n");
$coordinator->reload;

citus_test_schema($coordinator);
sql(q{
CREATE TABLE ctl (stop boolean);
INSERT INTO ctl VALUES (false);
});

my $port7 = citus_worker_port($coordinator, 'ads', 7);
my ($worker7) = grep { $_->port == $port7 } @workers;
my ($other) = grep { citus_worker_port($coordinator, 'ads', $_) != $port7 } 1 .. 10;
my ($neighbour) = grep { $_ != 7 && citus_worker_port($coordinator, 'ads', $_) == $port7 } 1 .. 10;
ok(defined $other && defined $neighbour, "tenant $other is on the other worker, tenant $neighbour on tenant 7's");
sub digests { return join ' | ', map { citus_shard_digests($coordinator, $_, $_[0]) } 'ads', 'clicks'; }
sub shard_of { return sql("SELECT '$_[0]_' || get_shard_id_for_distribution_column('$_[0]', $_[1])"); }
sub restored { return "SELECT string_agg(table_name || ' ' || rows_restored, ', ' ORDER BY table_name) FROM tenant_backup.backup_restore($_[0])"; }
sub damage { sql("DELETE FROM clicks WHERE tenant_id = 7 AND id % 3 = 0; UPDATE ads SET title = 'changed' WHERE tenant_id = 7"); }
sub prepared { return join ',', map { $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') } @workers; }

my $tenant7 = digests('tenant_id = 7');
my $bid = sql("SELECT tenant_backup.backup_create('7')");
my $others = digests('tenant_id <> 7');

# --- A restore while other sessions write other tenants (its neighbour on the same worker, a tenant
# on the other worker) and while a transaction of the same tenant, which inserted an ad and its
# click, is in flight: the restore does not wait for it, and it commits whole after the restore.
damage();
my @writers;
for my $tenant ($neighbour, $other)
{
	my $w = $coordinator->background_psql('postgres', on_error_stop => 0);
	$w->query_until(
		qr/started/, qq{
\\echo started
DO \$\$
BEGIN
    FOR i IN 100000 .. 200000 LOOP
        EXIT WHEN (SELECT stop FROM ctl);
        INSERT INTO ads VALUES ($tenant, i, 'written during the restore');
        INSERT INTO clicks VALUES ($tenant, i, i);
        COMMIT;
        PERFORM pg_sleep(0.002);
    END LOOP;
END
\$\$;
\\echo finished
});
	push @writers, $w;
}
my $written = "SELECT count(*) FROM ads WHERE tenant_id = %d AND id >= 100000";
$coordinator->poll_query_until('postgres', sprintf("SELECT ($written) >= 20", $_)) for $neighbour, $other;
my $inflight = $coordinator->background_psql('postgres');
$inflight->query_safe("BEGIN; INSERT INTO ads VALUES (7, 100001, 'in flight'); INSERT INTO clicks VALUES (7, 100001, 100001)");
is(sql(restored($bid)), 'public.ads 50, public.clicks 2000', "a restore while two other tenants are written and one of the tenant's own transactions is open");
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE kind = 'pre_restore' AND label = 'before restore of backup $bid'"),
	'1', 'it took its pre_restore backup first, in its transaction');
$inflight->query_safe('COMMIT');
sql('UPDATE ctl SET stop = true');
for my $w (@writers)
{
	$w->query_until(qr/finished/, '');
	$w->quit;
}
sql('UPDATE ctl SET stop = false');
is(digests('tenant_id = 7 AND id < 100000'), $tenant7, "tenant 7's restored rows are exactly the backup's, shard by shard");
is(sql("SELECT (SELECT count(*) FROM ads WHERE tenant_id = 7 AND id = 100001) || '/' || (SELECT count(*) FROM clicks WHERE tenant_id = 7 AND id = 100001)"),
	'1/1', "the tenant's transaction that was open during the restore committed whole after it");
for my $tenant ($neighbour, $other)
{
	my $n = sql(sprintf($written, $tenant));
	cmp_ok($n, '>', 0, "tenant $tenant was written during the restore");
	is(sql("SELECT count(*) FROM clicks WHERE tenant_id = $tenant AND id >= 100000"), $n, "and has every row it wrote");
}
is(prepared(), '0,0', 'nothing is left prepared on the workers');
sql("DELETE FROM clicks WHERE id >= 100000; DELETE FROM ads WHERE id >= 100000");
is(digests('tenant_id <> 7'), $others, 'the other tenants are otherwise as they were, shard by shard');

# --- A transaction of the same tenant that commits between the restore's DELETEs (clicks first,
# then ads, which waits on the worker): its new ad is deleted with the tenant's ads while its click
# refers to it, and the foreign key, which Citus enforces on the worker, fails the restore. As on a
# single server: writes of the tenant being restored are the application's to pause; the restore
# is all or nothing, and a retry restores the backup. (The restore's pre_restore backup read both
# tables before the writer committed: its reads must not leave the worker's transaction at
# REPEATABLE READ, under which the DELETE would miss the new ad and the restore keep it.)
damage();
my $damaged = digests('tenant_id = 7');
my $ads7 = shard_of('ads', 7);
my $queued = sub { return "SELECT count(*) = $_[0] FROM pg_locks WHERE NOT granted AND relation = '$ads7'::regclass"; };
$inflight->query_safe("BEGIN; INSERT INTO ads VALUES (7, 100002, 'between'); INSERT INTO clicks VALUES (7, 100002, 100002)");
my $locker = $worker7->background_psql('postgres');
$locker->query_until(qr/locking/, "SET citus.enable_manual_changes_to_shards = on;\nBEGIN;\n\\echo locking\nLOCK TABLE $ads7 IN SHARE MODE;\n");
$worker7->poll_query_until('postgres', $queued->(1)) or die 'the lock is not queued';
my $restore = $coordinator->background_psql('postgres', on_error_stop => 0);
$restore->query_until(qr/started/, "\\echo started\nSELECT * FROM tenant_backup.backup_restore($bid);\n\\echo done\n");
$worker7->poll_query_until('postgres', $queued->(2)) or die "the restore's DELETE of ads does not wait";
$inflight->query_safe('COMMIT');
$worker7->poll_query_until('postgres', $queued->(1));
$locker->query_safe('ROLLBACK');
$locker->quit;
$restore->query_until(qr/done/, '');
like($restore->{stderr}, qr/violates foreign key constraint "clicks_tenant_id_ad_id_fkey/,
	'a write of the tenant committed between its DELETEs fails the restore on the foreign key');
$restore->quit;
is(digests('tenant_id = 7 AND id < 100000'), $damaged, 'nothing of the restore is left, shard by shard');
is(sql("SELECT (SELECT count(*) FROM ads WHERE tenant_id = 7 AND id = 100002) || '/' || (SELECT count(*) FROM clicks WHERE tenant_id = 7 AND id = 100002)"),
	'1/1', "and the writer's transaction is whole");
is(sql(restored($bid)), 'public.ads 50, public.clicks 2000', 'the restore, retried, succeeds');
is(digests('tenant_id = 7'), $tenant7, 'and brings the backup back exactly');
$inflight->quit;

# --- A restore killed with kill -9 of its coordinator backend while it waits on the worker (after
# it deleted clicks there, its DELETE of ads waits for a lock): the coordinator restarts, the
# worker's transaction is rolled back, nothing of the tenant changed on any worker.
damage();
$damaged = digests('tenant_id = 7');
$locker = $worker7->background_psql('postgres');
$locker->query_safe("SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE $ads7 IN SHARE MODE");
$restore = $coordinator->background_psql('postgres', on_error_stop => 0);
$restore->query_until(qr/started/, "\\echo started\nSELECT * FROM tenant_backup.backup_restore($bid);\n");
$worker7->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = '$ads7'::regclass")
  or die 'the restore never reached the locked shard';
my $pid = sql("SELECT pid FROM pg_stat_activity WHERE query LIKE '%backup_restore($bid)%' AND pid <> pg_backend_pid()");
kill 'KILL', $pid;
eval { $restore->quit };
$coordinator->poll_query_until('postgres', 'SELECT true') or die 'the coordinator did not restart';
$locker->query_safe('ROLLBACK');
$locker->quit;
$worker7->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_locks WHERE relation = '$ads7'::regclass")
  or die "the killed restore's transaction on the worker did not end";
is(digests('tenant_id = 7'), $damaged, 'after a kill -9 of the restoring backend, tenant 7 is as it was on its worker, shard by shard');
is(digests('tenant_id <> 7'), $others, 'other tenants are untouched');
is(prepared(), '0,0', 'nothing is prepared on the workers');

# --- A worker stopped during a restore (its DELETE waits on the worker): a clear error, nothing lost.
damage();
$damaged = digests('tenant_id = 7');
$locker = $worker7->background_psql('postgres', on_error_stop => 0);
$locker->query_safe("SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE $ads7 IN SHARE MODE");
my ($out, $err) = ('', '');
$restore = $coordinator->background_psql('postgres', on_error_stop => 0);
$restore->query_until(qr/started/, "\\echo started\nSELECT * FROM tenant_backup.backup_restore($bid);\n\\echo done\n");
$worker7->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = '$ads7'::regclass")
  or die 'the restore never reached the locked shard';
$worker7->stop('immediate');
$restore->query_until(qr/done/, '');
like($restore->{stderr}, qr/connection to the remote node .* failed|server closed the connection unexpectedly|terminating connection/,
	'a restore whose worker stops under it fails with a clear error') or diag($restore->{stderr});
$restore->quit;
eval { $locker->quit };
$worker7->start;
is(digests('tenant_id = 7'), $damaged, 'once the worker is back, nothing of the tenant changed, shard by shard');
is(digests('tenant_id <> 7'), $others, 'nor of any other tenant');
is(prepared(), '0,0', 'nothing is prepared');

# --- A worker stopped during a backup (it waits on the worker for a lock on clicks' shard).
my $clicks7 = shard_of('clicks', 7);
my $completed = "SELECT count(*) FROM tenant_backup.backups WHERE status = 'completed'";
my $n_completed = sql($completed);
$locker = $worker7->background_psql('postgres', on_error_stop => 0);
$locker->query_safe("SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE $clicks7 IN ACCESS EXCLUSIVE MODE");
my $backup = $coordinator->background_psql('postgres', on_error_stop => 0);
$backup->query_until(qr/started/, "\\echo started\nSELECT tenant_backup.backup_create('7');\n\\echo done\n");
$worker7->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = '$clicks7'::regclass")
  or die 'the backup never reached the locked shard';
$worker7->stop('immediate');
$backup->query_until(qr/done/, '');
like($backup->{stderr}, qr/connection to the remote node .* failed|server closed the connection unexpectedly|terminating connection/,
	'a backup whose worker stops under it fails with a clear error') or diag($backup->{stderr});
$backup->quit;
eval { $locker->quit };
$worker7->start;
is(sql($completed), $n_completed, 'no backup is recorded as completed');
is(sql("SELECT count(*) FROM tenant_backup.backups WHERE status = 'running'"), '0', 'nor left running');
is(digests('tenant_id = 7'), $damaged, "and the tenant's rows are as they were");
is(sql(restored($bid)), 'public.ads 50, public.clicks 2000', 'the earlier backup still restores');
is(digests('tenant_id = 7'), $tenant7, 'exactly');

# --- A parent whose name sorts after its children (the archive holds tables in name order):
# Citus checks foreign keys on the workers as each statement loads, so the restore loads tenants
# before ads and clicks, and deletes it after them.
# Its identity column (GENERATED ALWAYS) gets the archived values back, as COPY gives them.
sql(q{CREATE TABLE tenants (tenant_id int PRIMARY KEY, name text, n bigint GENERATED ALWAYS AS IDENTITY);
SELECT create_distributed_table('tenants', 'tenant_id', colocate_with => 'ads');
INSERT INTO tenants (tenant_id, name) SELECT t, 'tenant ' || t FROM generate_series(1, 10) t;
ALTER TABLE ads ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE clicks ADD FOREIGN KEY (tenant_id) REFERENCES tenants});
my $with_parent = sql("SELECT tenant_backup.backup_create('7')");
damage();
my $tenant_row = sql('SELECT t::text FROM tenants t WHERE tenant_id = 7');
sql("UPDATE tenants SET name = 'renamed' WHERE tenant_id = 7");
is(sql(restored($with_parent)), 'public.ads 50, public.clicks 2000, public.tenants 1',
	'a restore whose parent table sorts after its children');
is(digests('tenant_id = 7') . ' ' . sql('SELECT t::text FROM tenants t WHERE tenant_id = 7'), "$tenant7 $tenant_row",
	'restores them exactly, shard by shard');
is(digests('tenant_id <> 7'), $others, 'other tenants untouched');

# --- Snapshots. A writer's transaction inserts an ad and its click of the tenant and waits before
# COMMIT; a session on the worker asks for an ACCESS EXCLUSIVE lock on a shard the backup reads
# last and waits behind the writer; the backup reads the first table, then queues behind that
# lock. The writer commits while the backup waits between its tables.
sub torn_backup
{
	my ($tenant, $second_table, $second_sql, $worker) = @_;
	my $writer = $coordinator->background_psql('postgres');
	$writer->query_safe("BEGIN; INSERT INTO ads VALUES ($tenant, 9001, 'in one transaction'); $second_sql");
	my $shard = shard_of($second_table, $tenant);
	my $lock = $worker->background_psql('postgres');
	$lock->query_until(qr/locking/,
		"SET citus.enable_manual_changes_to_shards = on;\nBEGIN;\n\\echo locking\nLOCK TABLE $shard IN ACCESS EXCLUSIVE MODE;\n");
	$worker->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_locks WHERE NOT granted AND relation = '$shard'::regclass")
	  or die 'the lock is not queued';
	my $b = $coordinator->background_psql('postgres');
	$b->query_until(qr/started/, "\\echo started\nSELECT tenant_backup.backup_create('$tenant') AS id \\gset\n\\echo backed up\n");
	$worker->poll_query_until('postgres', "SELECT count(*) = 2 FROM pg_locks WHERE NOT granted AND relation = '$shard'::regclass")
	  or die 'the backup does not wait for the second table';
	$writer->query_safe('COMMIT');
	$writer->quit;
	$worker->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_locks WHERE NOT granted AND relation = '$shard'::regclass");
	$lock->query_safe('ROLLBACK');
	$lock->quit;
	$b->query_until(qr/backed up/, '');
	my $id = $b->query('SELECT :id');
	$b->quit;
	my $in = sub {
		my ($table) = @_;
		return sql("SELECT count(*) FROM tenant_backup.backup_export_csv($id, '$table') l WHERE l LIKE '$tenant,9001,%'");
	};
	my $result = $in->('ads') . '/' . $in->($second_table);
	sql("DELETE FROM $second_table WHERE id = 9001; DELETE FROM ads WHERE id = 9001");
	return $result;
}
is(sql('SHOW transaction_isolation'), 'read committed', 'backups below run at READ COMMITTED');
is(torn_backup(7, 'clicks', 'INSERT INTO clicks VALUES (7, 9001, 9001);', $worker7), '0/0',
	"a co-located tenant is read on its worker under one snapshot: the writer's ad and click are both out");

# A table distributed by the tenant column but not co-located (its own colocation group): a tenant
# whose ads are on one worker and whose logs are on the other is read under one snapshot per worker,
# each taken when the backup first reads that worker. A transaction that wrote both and committed
# between the two is in the backup's logs and not in its ads: Citus has no cluster-wide snapshot.
sql(q{CREATE TABLE zlog (tenant_id int NOT NULL, id int NOT NULL, ad_id int NOT NULL);
SELECT create_distributed_table('zlog', 'tenant_id', shard_count => 3, colocate_with => 'none')});
my ($spread) = grep { citus_worker_port($coordinator, 'zlog', $_) != citus_worker_port($coordinator, 'ads', $_) } 1 .. 50;
ok(defined $spread, "tenant $spread has its ads on one worker and its logs on the other");
my ($ads_worker) = grep { $_->port == citus_worker_port($coordinator, 'ads', $spread) } @workers;
sql("INSERT INTO tenants (tenant_id, name) VALUES ($spread, 'spread') ON CONFLICT DO NOTHING");
sql("INSERT INTO ads VALUES ($spread, 1, 'x')") if sql("SELECT count(*) FROM ads WHERE tenant_id = $spread") eq '0';
is(torn_backup($spread, 'clicks', "INSERT INTO clicks VALUES ($spread, 9001, 9001); INSERT INTO zlog VALUES ($spread, 9001, 9001);",
		$ads_worker) . ' ' . sql("SELECT count(*) FROM tenant_backup.backup_export_csv((SELECT max(id) FROM tenant_backup.backups), 'zlog') l WHERE l LIKE '$spread,9001,%'"),
	'0/0 1', "a spread tenant: its first worker's snapshot predates the writer's commit, the other worker's follows it");

$_->stop for reverse @nodes;
done_testing();
