# Issue 19 item 13: the README's SQL runs as written. The ten-line tour (whose restore uses the id
# its own backup returned) is taken from README.md and run by psql, stopping at the first error,
# on a small schema with the tables it names; then each query of the "Settings -> Data & Backup
# page" recipe is run as the application's role, with $1 the tenant and $2 the backup id.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $readme_path = "$ENV{TESTDIR}/README.md";
plan skip_all => "no README.md beside the tests ($readme_path)" unless -f $readme_path;
my $readme = slurp_file($readme_path);

my $node = PostgreSQL::Test::Cluster->new('readme_tour');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tenant_backup'\n");
$node->start;
my $sql = sub { $node->safe_psql('postgres', $_[0]) };

$sql->(q{
CREATE TABLE invoices (tenant_id int NOT NULL, id int NOT NULL, amount numeric, PRIMARY KEY (tenant_id, id));
INSERT INTO invoices SELECT t, g, g * 1.5 FROM generate_series(41, 43) t, generate_series(1, 100) g;
CREATE ROLE app_acme;
CREATE ROLE app LOGIN;
});

# The tour: the first ```sql block after "ten-line tour".
my ($tour) = $readme =~ /ten-line tour.*?```sql\n(.*?)```/s;
ok(defined $tour, 'the README has the tour');
my $lines = () = $tour =~ /\n/g;
cmp_ok($lines, '<=', 10, "the tour is ten lines or fewer ($lines)");
like($tour, qr/AS id \\gset/, "the tour's restore uses the id its backup returned");

my ($rc, $out, $err) = $node->psql('postgres', $tour, extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
is($rc, 0, 'the tour runs without an error') or diag($err);
is($sql->('SELECT count(*) FROM invoices WHERE tenant_id = 42'), '100', 'and tenant 42 is back after its DELETE');
is($sql->('SELECT count(*) FROM invoices'), '300', 'with the other tenants untouched');

# The recipe: its grants, then each query of its table, as the application.
my ($grants) = $readme =~ /Settings → Data & Backup page\n.*?```sql\n(.*?)```/s;
ok(defined $grants, 'the README has the recipe');
($rc, $out, $err) = $node->psql('postgres', $grants, extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
is($rc, 0, "the recipe's roles and grants run") or diag($err);
$sql->(q{SELECT tenant_backup.backup_grant('app_backups', 'backup.restore', '42')});

# (not the pre_restore backup the tour's restore took first, issue 21: tenant 42 deleted)
my $id = $sql->(q{SELECT max(id) FROM tenant_backup.backups WHERE tenant = '42' AND kind <> 'pre_restore'});
my ($table) = $readme =~ /\| on the page \|.*?\n\|---\|---\|\n(.*?)\n\n/s;
my @queries = $table =~ /^\| [^|]+ \| `((?:[^`\\]|\\.)+)`/mg;
cmp_ok(scalar @queries, '>=', 6, 'the recipe names a query per part of the page');
for my $query (@queries) {
	(my $run = $query) =~ s/\\\|/|/g;
	$run =~ s/\$user/'app'/g;
	$run =~ s/\$1/'42'/g;
	$run =~ s/\$2/$id/g;
	$run = "SELECT count(*) FROM ($run) q" if $run =~ /backup_download/;
	($rc, $out, $err) = $node->psql('postgres', "SET ROLE app; $run", extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	is($rc, 0, "as the application: $run") or diag($err);
}
is($sql->('SELECT count(*) FROM invoices WHERE tenant_id = 42'), '100', "the recipe's restore left tenant 42 whole");

$node->stop;
done_testing();
