# Short transactions at scale (issue 23.1): with 20,000 tenants and 20,000 stored copies, the
# scheduler's upkeep after start-up (discovery, the new tenants' state rows, their next runs) and
# the sync worker's survey of the repository are split into many short transactions, none of which
# grows with the tenants:
#   - the scheduler's summary line counts its transactions (at least one per 5,000 tenants for each
#     of its steps) and times the longest;
#   - so does the sync worker's (it removes one leftover, so that it logs one);
#   - pg_stat_activity, sampled all along, never shows one of our workers in a transaction older
#     than a bound (generous: a batch takes well under a second even on a loaded 2-core machine).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $tenants = 20000;
my $bound = 5.0;    # seconds: the longest transaction any of our workers may hold

# Tenants found in the tenant tables (no registry), a schedule that is not due, the periodic sync
# off until the catalog is ready.
my $node = scheduler_node('scale_transactions',
	"tenant_backup.tenant_registry = ''\ntenant_backup.sync_interval = 0\nlog_min_messages = debug1\n");

sql(qq{
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE notes (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, 1 FROM generate_series(1, $tenants) t;
INSERT INTO notes SELECT t, 1 FROM generate_series(1, $tenants) t;
CREATE EXTENSION tenant_backup;
SET client_min_messages = error;
SELECT tenant_backup.backup_schedule_set(cron => '0 3 1 1 *', keep_last => 14);
});

# One real backup; then a completed backup per tenant whose archive is a hard link to its
# archive (same size), each with its stored copy: the repository holds 20,000 objects the catalog
# knows, and nothing the sync would change.
my $id = sql("SELECT tenant_backup.backup_create('1')");
my ($object, $size) = split /\|/, sql("SELECT object_name, size_bytes FROM tenant_backup.backups WHERE id = $id");
my $repository = sql("SHOW tenant_backup.repository");
$repository = $node->data_dir . "/$repository" unless $repository =~ m{^/};
my ($prefix) = $object =~ m{^(.*/)\d+-[0-9a-f]{16}\.tbk$};
ok(defined $prefix, 'the archive is named <database prefix><id>-<hex>.tbk');
sql(qq{
INSERT INTO tenant_backup.backups (tenant, kind, label, status, created_at, finished_at, tables, row_count,
    size_bytes, sha256, compression, repository, object_name, encrypted, key_generation, left_out)
SELECT t::text, 'auto', 'copied', 'completed', b.created_at, b.finished_at, b.tables, b.row_count, b.size_bytes,
       b.sha256, b.compression, b.repository, 'pending', b.encrypted, b.key_generation, b.left_out
FROM tenant_backup.backups b, generate_series(2, $tenants) t WHERE b.id = $id;
UPDATE tenant_backup.backups SET object_name = '$prefix' || id || '-' || lpad(to_hex(id), 16, '0') || '.tbk'
WHERE object_name = 'pending';
INSERT INTO tenant_backup.backup_copies (backup_id, repository, object_name, location, size_bytes, sha256, stored_at, state)
SELECT b.id, 'local', b.object_name, NULL, b.size_bytes, b.sha256, now(), 'stored'
FROM tenant_backup.backups b WHERE b.label = 'copied';
});
# Each archive has its record beside it, as every backup writes one (a link to the real backup's:
# the sync looks only for its presence), so that the sync has no records to write.
ok(-e "$repository/$object.record", 'the backup wrote its record');
my $linked = 0;
for my $name (split /\n/, sql("SELECT object_name FROM tenant_backup.backups WHERE label = 'copied'"))
{
	$linked++
	  if link("$repository/$object", "$repository/$name")
	  && link("$repository/$object.record", "$repository/$name.record");
}
# And one leftover for the sync to remove: the archive of a failed backup.
my $failed = sql("INSERT INTO tenant_backup.backups (tenant, kind, status) VALUES ('1', 'auto', 'failed') RETURNING id");
my $leftover = $prefix . $failed . '-' . sprintf('%016x', $failed) . '.tbk';
$linked++ if link("$repository/$object", "$repository/$leftover");
is($linked, $tenants, 'every copied backup has its archive, and the failed one');
is(sql("SELECT count(*) FROM tenant_backup.backup_copies WHERE state = 'stored'"), $tenants, "$tenants stored copies");

# From a restart: the scheduler's first pass finds every tenant, adds their state rows and
# computes their next runs; the sync worker surveys the repository at once.
$node->append_conf('postgresql.conf', "tenant_backup.sync_interval = 3600\n");
sql("DELETE FROM tenant_backup.schedule_state");
my $log_offset = -s $node->logfile;
$node->restart;

# Samples our workers' open transactions until the upkeep is done and the sync worker has come
# and gone.
my $sampler = $node->background_psql('postgres');
my (%longest, %transactions);
my $start = time();
while (time() - $start < 120)
{
	my $out = $sampler->query_safe(
		q{SELECT backend_type, extract(epoch FROM clock_timestamp() - xact_start), xact_start
		  FROM pg_stat_activity WHERE backend_type LIKE 'tenant_backup%' AND xact_start IS NOT NULL});
	for my $line (split /\n/, $out)
	{
		my ($type, $age, $xact) = split /\|/, $line;
		$longest{$type} = $age if !defined $longest{$type} || $age > $longest{$type};
		$transactions{$type}{$xact} = 1;
	}
	last
	  if $sampler->query_safe(
		q{SELECT (SELECT count(next_run) FROM tenant_backup.schedule_state) = } . $tenants . q{
		  AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'tenant_backup sync')}) eq 't'
	  && $node->log_contains(qr/tenant_backup sync: \d+ done/, $log_offset);
	usleep(20_000);
}
$sampler->quit;

is(sql("SELECT count(next_run) FROM tenant_backup.schedule_state"), $tenants, 'every tenant has its next run');
is(sql("SELECT count(*) FROM tenant_backup.backup_copies WHERE state <> 'stored'"), '0',
	'the survey found every copy in the repository');
for my $type (sort keys %longest)
{
	ok($longest{$type} < $bound, sprintf("%s: the longest transaction seen lasted %.2f s", $type, $longest{$type}));
}
ok(!-e "$repository/$leftover", 'the sync removed the leftover');

# The scheduler's own account: two tables read in steps, 20,000 tenants added and their next
# runs computed in batches of 5,000.
my $log = substr(slurp_file($node->logfile), $log_offset);
my ($found, $added, $computed, $count, $longest) = $log =~
  /tenant_backup scheduler: (\d+) tenants found, (\d+) tenants added, \d+ dropped, (\d+) next runs computed, in (\d+) transactions \(the longest ([\d.]+) s\)/;
is($found, $tenants, 'the scheduler found every tenant');
is($added, $tenants, 'and added them');
is($computed, $tenants, 'and computed their next runs');
cmp_ok($count, '>=', 2 * 2 + 2 * ($tenants / 5000),
	"in $count transactions (two steps per table, batches of 5,000)");
cmp_ok($longest, '<', $bound, "the longest of them by its own clock lasted $longest s");

# The sync worker's own account: 20,000 copies read in parts of 5,000, each part and the removal
# in transactions of their own (the listing between them).
my ($sync_count, $sync_longest) =
  $log =~ /tenant_backup sync: \d+ done, 0 failed, in (\d+) transactions \(the longest ([\d.]+) s\)/;
cmp_ok($sync_count // 0, '>=', $tenants / 5000, 'the sync worker took ' . ($sync_count // 'no') . ' transactions');
cmp_ok($sync_longest // 99, '<', $bound, 'the longest of them by its own clock lasted ' . ($sync_longest // '?') . ' s');

$node->stop('fast');
done_testing();
