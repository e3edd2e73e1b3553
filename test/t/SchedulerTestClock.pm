# What the scheduler's TAP tests share: a cluster with the library preloaded and a quick
# scheduler, polling a query until it returns what is expected (also on a node of another test,
# given to use_node), and the scheduler's test clock (tenant_backup.scheduler_clock_offset) set to
# a day and time.
package SchedulerTestClock;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use POSIX qw(floor);
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(scheduler_node use_node sql wait_for set_clock $today);

my $node;

# A started cluster with tenant_backup preloaded, its scheduler waking every second and retrying
# after 2 s, tenants listed by public.registry; `extra` is more postgresql.conf (later lines win),
# and any further arguments go to init (allows_streaming => 1 for a standby).
sub scheduler_node
{
	my ($name, $extra, %init) = @_;
	$node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf(
		'postgresql.conf', q{
shared_preload_libraries = 'tenant_backup'
tenant_backup.databases = 'postgres'
tenant_backup.scheduler_naptime = 1
tenant_backup.retry_interval = 2
tenant_backup.tenant_registry = 'public.registry'
max_worker_processes = 16
} . ($extra // ''));
	$node->start;
	return $node;
}

# From now on sql() and wait_for() ask another node (a standby promoted in the first one's place).
sub use_node { $node = $_[0]; }

sub sql { return $node->safe_psql('postgres', $_[0]); }

# Polls until $sql returns $expected (or 60 s pass); returns whether it did.
sub wait_for
{
	my ($sql, $expected) = @_;
	for (1 .. 600)
	{
		return 1 if sql($sql) eq $expected;
		usleep(100_000);
	}
	diag("still " . sql($sql) . " instead of $expected for: $sql");
	return 0;
}

# Midnight UTC today; set_clock sets the scheduler's clock to `day` days after it, at hh:mm:ss
# UTC, and reloads.
our $today = floor(time() / 86400) * 86400;

sub set_clock
{
	my ($day, $h, $m, $s) = @_;
	my $offset = $today + $day * 86400 + $h * 3600 + $m * 60 + $s - time();
	$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $offset");
	$node->reload;
}

1;
