# Citus (issue 15, first step): until distributed tables are supported, a restore refuses Citus
# distributed, reference and Citus local tables before it changes anything, so no tenant's rows
# can be loaded into the coordinator's shell tables past Citus (where 0.1.0 lost them). Runs on a
# real cluster: a coordinator and two workers, Citus built from ../shared/citus by
# scripts/test.sh. Skipped with a clear line when Citus is not installed.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
plan skip_all => "Citus is not installed ($libdir/citus.so): scripts/test.sh builds it when ../shared/citus exists"
  unless -f "$libdir/citus.so";

my @nodes;
for my $name ('coordinator', 'worker1', 'worker2')
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'citus'\nmax_worker_processes = 16\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	push @nodes, $node;
}
my ($coordinator, @workers) = @nodes;
sub sql { return $coordinator->safe_psql('postgres', $_[0]); }

sql("SELECT citus_set_coordinator_host('" . $coordinator->host . "', " . $coordinator->port . ")");
sql("SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for @workers;
is(sql('SELECT count(*) FROM citus_get_active_worker_nodes()'), '2', 'a coordinator with two workers');

sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE plans (id int PRIMARY KEY, name text);
SELECT create_reference_table('plans');
INSERT INTO plans VALUES (1, 'basic'), (2, 'pro');
CREATE TABLE ads (tenant_id int NOT NULL, id int NOT NULL, title text, plan_id int, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('ads', 'tenant_id');
INSERT INTO ads SELECT t, g, 'ad ' || g, 1 + g % 2 FROM generate_series(1, 10) t, generate_series(1, 50) g;
CREATE TABLE notes (tenant_id int NOT NULL, id int PRIMARY KEY, body text);
INSERT INTO notes SELECT 1 + g % 10, g, 'note ' || g FROM generate_series(1, 100) g;
});

# A backup reads through Citus and works.
my $bid = sql("SELECT tenant_backup.backup_create('7')");
is(sql("SELECT row_count FROM tenant_backup.backups WHERE id = $bid"), '60', 'tenant 7 backed up through Citus (50 ads, 10 notes)');

# The restore refuses before changing anything: the tenant's rows are all still there.
my ($rc, $out, $err) = $coordinator->psql('postgres', "SELECT * FROM tenant_backup.backup_restore($bid)");
isnt($rc, 0, 'a restore of a backup holding a distributed table is refused');
like($err, qr/cannot restore into table public\.ads: it is a Citus distributed table/, 'the error names the distributed table');
is(sql('SELECT count(*) FROM ads WHERE tenant_id = 7'), '50', "tenant 7's distributed rows are untouched");
is(sql('SELECT count(*) FROM notes WHERE tenant_id = 7'), '10', 'and so are its local rows');
my $shards = 0;
# Citus hides shards from catalog queries unless asked to show them.
$shards += $_->safe_psql('postgres',
	"SET citus.show_shards_for_app_name_prefixes = '*'; SELECT coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s WHERE tenant_id = 7', "
	  . "c.oid::regclass), false, true, '')))[1]::text::int), 0) FROM pg_class c WHERE c.relname LIKE 'ads\\_%' AND c.relkind = 'r'")
  for @workers;
is($shards, 50, "the workers' shards still hold tenant 7's 50 rows");

# Once the distributed table is out of backups, a backup of the coordinator's local tables restores.
sql("SELECT tenant_backup.backup_exclude_table('ads')");
my $local = sql("SELECT tenant_backup.backup_create('7')");
sql("DELETE FROM notes WHERE tenant_id = 7");
is(sql("SELECT string_agg(table_name || ' ' || rows_restored, ',') FROM tenant_backup.backup_restore($local)"),
	'public.notes 10', 'local tables on the coordinator restore as before');
is(sql('SELECT count(*) FROM notes WHERE tenant_id = 7'), '10', "tenant 7's local rows are back");

# A reference table registered as a tenant table is refused too, before anything changes.
sql("ALTER TABLE plans ADD COLUMN tenant_id int");
sql("UPDATE plans SET tenant_id = 7");
my $ref = sql("SELECT tenant_backup.backup_create('7')");
($rc, $out, $err) = $coordinator->psql('postgres', "SELECT * FROM tenant_backup.backup_restore($ref)");
like($err, qr/cannot restore into table public\.plans: it is a Citus reference or local table/, 'a reference table is refused');
is(sql('SELECT count(*) FROM plans'), '2', 'the reference table is untouched');

$_->stop for reverse @nodes;
done_testing();
