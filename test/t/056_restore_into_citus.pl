# Issue 21 on Citus: backup_restore_into on a coordinator makes local tables of the coordinator
# (never distributed, no table on a worker; Citus creates the schema there too, empty), holding the tenant's rows of distributed tables, and
# leaves the distributed tables and their shards as they are; aimed restores (rows =>) refuse
# Citus tables, changing nothing. Skipped with a clear line when Citus is not installed.
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

sql(q{
CREATE EXTENSION tenant_backup;
SET tenant_backup.pre_restore_backup = off;
CREATE TABLE plans (id int PRIMARY KEY, name text);
SELECT create_reference_table('plans');
INSERT INTO plans VALUES (1, 'basic'), (2, 'pro');
CREATE TABLE ads (tenant_id int NOT NULL, id int NOT NULL, title text, plan_id int REFERENCES plans (id),
  PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('ads', 'tenant_id', shard_count => 4);
INSERT INTO ads SELECT t, g, 'ad ' || g, 1 + g % 2 FROM generate_series(1, 10) t, generate_series(1, 50) g;
});
my $bid = sql("SELECT tenant_backup.backup_create('7')");
sql("DELETE FROM ads WHERE tenant_id = 7 AND id > 40");
my $shards = citus_shard_digests($coordinator, 'ads', 'true');

is( sql("SELECT string_agg(table_name || '=' || restored_as || ':' || rows_restored, ',') "
		  . "FROM tenant_backup.backup_restore_into($bid, 'inspect')"),
	'public.ads=inspect.ads:50',
	'the distributed table is materialized with the tenant\'s 50 archived rows');
is(sql("SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'inspect.ads'::regclass"),
	'0', 'the copy is not a Citus table (no pg_dist_partition row)');
is(sql("SELECT relkind FROM pg_class WHERE oid = 'inspect.ads'::regclass"), 'r', 'a plain local table');
is(sql("SELECT count(*), count(DISTINCT tenant_id), max(id) FROM inspect.ads"), '50|1|50',
	'it holds the tenant\'s rows as backed up, on the coordinator');
for my $w (@workers)
{
	# Citus propagates CREATE SCHEMA to the workers: there it stays empty.
	is( $w->safe_psql('postgres',
			"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'inspect'"),
		'0',
		'no worker has a table of the schema (port ' . $w->port . ')');
}
is(citus_shard_digests($coordinator, 'ads', 'true'), $shards, 'the distributed table\'s shards are untouched');
is(sql("SELECT count(*) FROM ads WHERE tenant_id = 7"), '40', 'production rows are untouched');

my ($rc, $out, $err) = $coordinator->psql('postgres',
	"SELECT * FROM tenant_backup.backup_restore($bid, dry_run => false, pre_restore_backup => false, "
	  . "rows => '{\"public.ads\": [{\"tenant_id\": 7, \"id\": 41}]}')");
like($err, qr/rows => cannot restore Citus table public\.ads; nothing was restored/,
	'an aimed restore refuses the Citus table');
is(sql("SELECT count(*) FROM ads WHERE tenant_id = 7"), '40', 'and changes nothing');

done_testing();
