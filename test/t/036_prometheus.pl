# The Prometheus query file (monitoring/postgres_exporter_queries.yaml, issue 19.7) served by the
# real postgres_exporter (Debian's prometheus-postgres-exporter) against a test cluster, as a
# least-privileged monitoring role (LOGIN, pg_monitor: issue 19.6): the per-tenant metrics carry
# what backup_status says (last success age, failures in a row, overdue, unprotected, retained
# bytes, running), no row contents (last_error is not exported), and every metric the documented
# alert rules (monitoring/alerts.yml) use is served. A role with neither pg_monitor nor backup.view
# gets no tenant's metric.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(usleep);

my $exporter = $ENV{TB_POSTGRES_EXPORTER} // '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "$exporter is not installed (scripts/install-deps.sh installs prometheus-postgres-exporter)"
  unless -x $exporter;
my $files = "$ENV{TESTDIR}/monitoring";
my $queries = "$files/postgres_exporter_queries.yaml";
ok(-r $queries, 'the query file is there');

my $node = PostgreSQL::Test::Cluster->new('prometheus');
$node->init;
$node->append_conf('postgresql.conf', "tenant_backup.unencrypted_backups = 'allow'\n");
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }

# Three tenants: 1 backed up, 2 backed up but failing since (with an error that quotes a row), 3
# never backed up although its every-minute schedule was due long ago (overdue, unprotected).
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, secret text, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, 'row-secret-' || t FROM generate_series(1, 3) t, generate_series(1, 50) g;
SELECT tenant_backup.backup_create('1');
SELECT tenant_backup.backup_create('1');
SELECT tenant_backup.backup_create('2');
SELECT tenant_backup.backup_schedule_set(cron => '0 3 * * *');
SELECT tenant_backup.backup_schedule_set('3', '* * * * *');
INSERT INTO tenant_backup.schedule_state (tenant, consecutive_failures, last_error, last_failure_at)
VALUES ('2', 3, 'could not write: row (2, row-secret-2)', now());
CREATE ROLE tb_monitor LOGIN;
GRANT pg_monitor TO tb_monitor;
});
my $bytes_1 = sql("SELECT sum(size_bytes) FROM tenant_backup.backups WHERE tenant = '1' AND status = 'completed'");

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = "host=" . $node->host . " port=" . $node->port . " user=tb_monitor dbname=postgres sslmode=disable";
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ $exporter, "--web.listen-address=127.0.0.1:$port", "--extend.query-path=$queries" ],
	'<', \undef, '>', \$out, '2>', \$err,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

my $http = HTTP::Tiny->new(timeout => 10);
my $metrics = '';
for (1 .. 300)
{
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	if ($r->{success} && $r->{content} =~ /^tenant_backup_database_served_by_scheduler/m)
	{
		$metrics = $r->{content};
		last;
	}
	usleep(100_000);
}
ok($metrics ne '', 'the exporter serves tenant_backup metrics') or diag("exporter stderr: $err");

# The value of a metric for a tenant (or, without one, of the database's metric).
sub metric
{
	my ($name, $tenant) = @_;
	for my $line (split /\n/, $metrics)
	{
		next unless $line =~ /^\Q$name\E\{([^}]*)\} (\S+)$/;
		my ($labels, $value) = ($1, $2);
		next unless $labels =~ /database="postgres"/;
		next if defined $tenant && $labels !~ /tenant="\Q$tenant\E"/;
		return $value;
	}
	return undef;
}

is(metric('pg_up'), undef, '(pg_up has no database label)');
like($metrics, qr/^pg_up(\{[^}]*\})? 1$/m, 'the exporter reaches the server as tb_monitor');
like($metrics, qr/^pg_exporter_user_queries_load_error\{[^}]*\} 0$/m, 'the query file loads without error');
unlike($metrics, qr/^pg_exporter_last_scrape_error(\{[^}]*\})? 1$/m, 'the last scrape had no error');

my $age = metric('tenant_backup_last_success_age_seconds', '1');
ok(defined $age && $age >= 0 && $age < 600, "tenant 1: last success age in seconds ($age)");
is(metric('tenant_backup_last_success_age_seconds', '3'), 'NaN', 'tenant 3: no last success (NaN)');
ok(abs(metric('tenant_backup_last_success_timestamp_seconds', '1') - time()) < 600,
	'tenant 1: last success timestamp near now');
is(metric('tenant_backup_consecutive_failures', '2'), '3', 'tenant 2: three failures in a row');
is(metric('tenant_backup_consecutive_failures', '1'), '0', 'tenant 1: none');
is(metric('tenant_backup_overdue', '3'), '1', 'tenant 3: overdue');
is(metric('tenant_backup_overdue', '1'), '0', 'tenant 1: not overdue');
is(metric('tenant_backup_unprotected', '3'), '1', 'tenant 3: unprotected');
is(metric('tenant_backup_unprotected', '1'), '0', 'tenant 1: protected');
is(metric('tenant_backup_retained_count', '1'), '2', 'tenant 1: two backups kept');
is(metric('tenant_backup_retained_bytes', '1') + 0, $bytes_1, "tenant 1: retained bytes ($bytes_1)");
is(metric('tenant_backup_running', '1'), '0', 'tenant 1: no backup running');
is(metric('tenant_backup_scheduled', '3'), '1', 'tenant 3: scheduled');
ok(metric('tenant_backup_next_run_in_seconds', '3') <= 60, 'tenant 3: next run within a minute');
is(metric('tenant_backup_database_served_by_scheduler'), '0',
	'no scheduler serves the database (not preloaded here), and the metric says so');
unlike($metrics, qr/row-secret/, 'no row contents among the metrics (last_error is not exported)');

# Every tenant_backup metric the documented alert rules use is served.
my $alerts = slurp_file("$files/alerts.yml");
my %used = map { $_ => 1 } ($alerts =~ /\b(tenant_backup_[a-z_]+)\b/g);
ok(scalar(keys %used) >= 5, 'the alert rules use the metrics (' . join(', ', sort keys %used) . ')');
for my $name (sort keys %used)
{
	like($metrics, qr/^\Q$name\E\{/m, "$name, used by an alert rule, is served");
}

$h->kill_kill;

# The same exporter as a role with neither pg_monitor nor backup.view: no tenant's metric (the
# server refuses its backup_status query), the exporter keeps serving the rest (the database's
# served_by_scheduler says nothing about tenants and is anyone's to read).
sql('CREATE ROLE tb_nobody LOGIN');
my $port2 = PostgreSQL::Test::Cluster::get_free_port();
(my $dsn2 = $dsn) =~ s/user=tb_monitor/user=tb_nobody/;
my ($out2, $err2) = ('', '');
my $h2 = IPC::Run::start(
	[ $exporter, "--web.listen-address=127.0.0.1:$port2", "--extend.query-path=$queries" ],
	'<', \undef, '>', \$out2, '2>', \$err2,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn2; });
my $denied = '';
for (1 .. 300)
{
	my $r = $http->get("http://127.0.0.1:$port2/metrics");
	if ($r->{success} && $r->{content} =~ /^pg_up/m)
	{
		$denied = $r->{content};
		last;
	}
	usleep(100_000);
}
like($denied, qr/^pg_up(\{[^}]*\})? 1$/m, 'a role without pg_monitor: the exporter still reaches the server');
unlike($denied, qr/^tenant_backup_\w+\{[^}]*tenant=/m, 'but serves no tenant metric');
like(slurp_file($node->logfile), qr/ERROR:  permission denied: role "tb_nobody" may not read backup status/,
	'the server refused its backup_status query, saying why');
$h2->kill_kill;
$node->stop;
done_testing();
