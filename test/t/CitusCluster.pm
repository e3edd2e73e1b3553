# What the Citus TAP tests share: skipping with a clear line when Citus is not installed, and a
# started cluster of a coordinator and two workers (Citus built from ../shared/citus by
# scripts/test.sh; see its README).
package CitusCluster;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(citus_cluster citus_worker_port citus_shard_digests);

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
