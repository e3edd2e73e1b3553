# Citus (issue 15 with issue 21's undo): a restore of Citus distributed tables takes its pre_restore
# backup in its transaction, and restoring that backup brings the tenant back, shard by shard. The
# undo backup reads at the caller's level (not under one snapshot per worker, which would keep the
# workers' transactions at REPEATABLE READ for the restore's DELETEs and loads: TAP 032's writers
# check that the restore still sees what they commit); with writers that call tenant_writing(), it
# is the tenant at one instant, exactly what the restore replaces: a writer's ad and click
# committed while the restore waited for it are in the undo backup, and come back with it. One
# cluster of a coordinator and two workers. Skipped with a clear line when Citus is not installed.
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
citus_test_schema($coordinator);

sub digests { return join ' | ', map { citus_shard_digests($coordinator, $_, $_[0]) } 'ads', 'clicks'; }
sub damage { sql("DELETE FROM clicks WHERE tenant_id = 7 AND id % 3 = 0; UPDATE ads SET title = 'changed' WHERE tenant_id = 7"); }
sub undo_of
{
	my ($bid) = @_;
	return "SELECT id FROM tenant_backup.backups WHERE kind = 'pre_restore' AND label = 'before restore of backup $bid' ORDER BY id DESC LIMIT 1";
}
my $restore_sql = 'SELECT min(pre_restore_backup_id) FROM tenant_backup.backup_restore(%d, dry_run => false)';

my $tenant7 = digests('tenant_id = 7');
my $others = digests('tenant_id <> 7');
my $bid = sql("SELECT tenant_backup.backup_create('7')");

# --- The undo backup of a restore of distributed tables.
damage();
my $damaged = digests('tenant_id = 7');
my $damaged_rows = sql('SELECT (SELECT count(*) FROM ads WHERE tenant_id = 7) + (SELECT count(*) FROM clicks WHERE tenant_id = 7)');
my ($rc, $undo, $err) = $coordinator->psql('postgres', sprintf($restore_sql, $bid));
is($rc, 0, 'a restore of distributed tables succeeds');
unlike($err, qr/takes no pre_restore backup/, 'without refusing its undo');
isnt($undo, '', 'and reports its pre_restore backup');
is(sql(undo_of($bid)), $undo, "labelled with the restore it precedes");
is(sql("SELECT kind || ':' || status || ':' || row_count FROM tenant_backup.backups WHERE id = $undo"),
	"pre_restore:completed:$damaged_rows", 'a completed backup of the tenant as it was');
is(digests('tenant_id = 7'), $tenant7, 'the restore brought the backup back, shard by shard');
isnt(sql(sprintf($restore_sql, $undo)), '', 'restoring the undo backup (which takes its own)');
is(digests('tenant_id = 7'), $damaged, 'undoes the restore, shard by shard');
is(digests('tenant_id <> 7'), $others, 'other tenants untouched');

# --- A writer that calls tenant_writing() first, open when the restore starts: the restore waits
# for it (before its undo backup reads anything); its ad and click, committed then, are in the undo
# backup and replaced by the restore; restoring the undo backup brings them back with the rest.
my $writer = $coordinator->background_psql('postgres');
$writer->query_safe("BEGIN; SELECT tenant_backup.tenant_writing('7'); "
	  . "INSERT INTO ads VALUES (7, 100001, 'written before the restore'); INSERT INTO clicks VALUES (7, 100001, 100001)");
my $restore = $coordinator->background_psql('postgres');
$restore->query_until(qr/started/, "\\echo started\n" . sprintf($restore_sql, $bid) . " \\gset undo_\n\\echo restored\n");
$coordinator->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
  or die 'the restore does not wait for the writer';
$writer->query_safe('COMMIT');
$writer->quit;
$restore->query_until(qr/restored/, '');
$undo = $restore->query('SELECT :undo_min');
$restore->quit;
is(digests('tenant_id = 7'), $tenant7, "the restore replaced the writer's rows with the backup, shard by shard");
is(sql("SELECT count(*) FROM tenant_backup.backup_export_csv($undo, 'ads') l WHERE l LIKE '7,100001,%'") . '/'
	  . sql("SELECT count(*) FROM tenant_backup.backup_export_csv($undo, 'clicks') l WHERE l LIKE '7,100001,%'"),
	'1/1', "the writer's ad and click are in the undo backup");
sql(sprintf($restore_sql, $undo));
is(digests('tenant_id = 7 AND id < 100000') . ' ' . sql("SELECT (SELECT title FROM ads WHERE tenant_id = 7 AND id = 100001) || '/' "
	  . "|| (SELECT ad_id FROM clicks WHERE tenant_id = 7 AND id = 100001)"), "$damaged written before the restore/100001",
	'restoring it brings back the tenant as the writer left it, shard by shard');
is(digests('tenant_id <> 7'), $others, 'other tenants untouched');

$_->stop for reverse @nodes;
done_testing();
