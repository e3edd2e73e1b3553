# What the Citus TAP tests share: skipping with a clear line when Citus is not installed, and a
# started cluster of a coordinator and two workers (Citus built from ../shared/citus by
# scripts/test.sh; see its README).
package CitusCluster;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(citus_cluster citus_test_schema citus_worker_port citus_shard_digests);

# Skips the whole test unless citus.so is installed; otherwise returns the started coordinator and
# its two workers, each with CREATE EXTENSION citus, the workers added to the coordinator.
# coordinator_conf => more postgresql.conf lines for the coordinator (later lines win).
sub citus_cluster
{
	my (%opts) = @_;
	my $libdir = `pg_config --pkglibdir`;
	chomp $libdir;
	plan skip_all => "Citus is not installed ($libdir/citus.so): scripts/test.sh builds it when ../shared/citus exists"
	  unless -f "$libdir/citus.so";
	my @nodes;
	for my $name ('coordinator', 'worker1', 'worker2')
	{
		my $node = PostgreSQL::Test::Cluster->new($name);
		$node->init;
		# citus.local_hostname: a node's connections to itself (isolate_tenant_to_new_shard) use its socket.
		$node->append_conf('postgresql.conf',
			    "shared_preload_libraries = 'citus'\nmax_worker_processes = 16\ncitus.local_hostname = '"
			  . $node->host
			  . "'\n");
		$node->append_conf('postgresql.conf', $opts{coordinator_conf}) if $name eq 'coordinator' && $opts{coordinator_conf};
		$node->start;
		$node->safe_psql('postgres', 'CREATE EXTENSION citus');
		push @nodes, $node;
	}
	my ($coordinator, @workers) = @nodes;
	$coordinator->safe_psql('postgres',
		"SELECT citus_set_coordinator_host('" . $coordinator->host . "', " . $coordinator->port . ")");
	$coordinator->safe_psql('postgres', "SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for @workers;
	is($coordinator->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'),
		'2', 'a coordinator with two workers');
	return @nodes;
}

# The Citus tests' schema, on the coordinator: CREATE EXTENSION tenant_backup, then ads and clicks
# distributed by tenant_id over 4 shards and co-located, clicks referencing ads by a foreign key,
# for tenants 1 to 10. Each tenant t has `ads` ads (an SQL expression of t; 50 unless given) and
# `clicks` clicks (2000 unless given), click g referring to ad 1 + g % `referenced` (50 unless
# given, at most the fewest ads of a tenant).
sub citus_test_schema
{
	my ($coordinator, %opts) = @_;
	my $ads = $opts{ads} // '50';
	my $clicks = $opts{clicks} // 2000;
	my $referenced = $opts{referenced} // 50;
	$coordinator->safe_psql('postgres', qq{
CREATE EXTENSION tenant_backup;
CREATE TABLE ads (tenant_id int NOT NULL, id int NOT NULL, title text, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('ads', 'tenant_id', shard_count => 4);
CREATE TABLE clicks (tenant_id int NOT NULL, id int NOT NULL, ad_id int NOT NULL, PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ad_id) REFERENCES ads (tenant_id, id));
SELECT create_distributed_table('clicks', 'tenant_id', colocate_with => 'ads');
INSERT INTO ads SELECT t, g, 'ad ' || g FROM generate_series(1, 10) t, generate_series(1, $ads) g;
INSERT INTO clicks SELECT t, g, 1 + g % $referenced FROM generate_series(1, 10) t, generate_series(1, $clicks) g;
});
	return;
}

# The port of the worker holding the shard of `table` for the distribution value `value`.
sub citus_worker_port
{
	my ($coordinator, $table, $value) = @_;
	return $coordinator->safe_psql('postgres',
		    "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) "
		  . "WHERE p.shardid = get_shard_id_for_distribution_column('$table', $value)");
}

# Every shard of `table`, read on the worker that holds it (run_command_on_shards): one digest per
# shard of its rows matching `where`, as "shardid:count/md5" in shard order.
sub citus_shard_digests
{
	my ($coordinator, $table, $where) = @_;
	return $coordinator->safe_psql('postgres',
		    "SELECT string_agg(shardid || ':' || result, ' ' ORDER BY shardid) FROM run_command_on_shards('$table', "
		  . "\$\$SELECT count(*) || '/' || coalesce(md5(string_agg(t::text, ',' ORDER BY t)), '') FROM %s t WHERE $where\$\$)");
}

1;
