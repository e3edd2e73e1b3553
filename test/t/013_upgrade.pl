# Upgrades: archives and catalogs written by the released 0.1.0 keep verifying and restoring.
# The real 0.1.0 module (built from its release commit by scripts/test.sh, TB_OLD_INSTALL: a copy
# of PostgreSQL's installation holding it) takes the backups; the same data directory is then
# started with this version's module, ALTER EXTENSION tenant_backup UPDATE runs, and every backup
# verifies, downloads and restores exactly, encrypted or not, with a column of a type in public
# (0.1.0 recorded such type names unqualified, under its caller's search_path).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old = $ENV{TB_OLD_INSTALL};
plan skip_all => 'TB_OLD_INSTALL is not set: the 0.1.0 release was not built (scripts/test.sh builds it from git)'
  unless $old && -x "$old/bin/postgres";

my $keys_dir = PostgreSQL::Test::Utils::tempdir();
my $key_file = "$keys_dir/master.key";
open my $fh, '>', $key_file or die "cannot write $key_file: $!";
print $fh '3' x 64, "\n";
close $fh;
chmod 0600, $key_file;

my $node = PostgreSQL::Test::Cluster->new('upgrade', install_path => $old);
$node->init;
$node->start;
$node->safe_psql('postgres', "CREATE EXTENSION tenant_backup");
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'tenant_backup'"),
	'0.1.0', 'the old installation is the 0.1.0 release');
$node->safe_psql(
	'postgres', q{
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SCHEMA app;
CREATE TABLE app.customers (tenant_id int NOT NULL, id serial PRIMARY KEY, name text NOT NULL, m mood);
CREATE TABLE app.orders (tenant_id int NOT NULL, id serial PRIMARY KEY,
                         customer_id int NOT NULL REFERENCES app.customers (id), total numeric(12, 2));
CREATE INDEX ON app.customers (tenant_id);
CREATE INDEX ON app.orders (tenant_id);
INSERT INTO app.customers (tenant_id, name, m) SELECT 1 + g % 3, 'customer ' || g, (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3]
FROM generate_series(1, 300) g;
INSERT INTO app.orders (tenant_id, customer_id, total) SELECT c.tenant_id, c.id, c.id * 1.25 FROM app.customers c;
-- no tenant column: 0.1.0 leaves it out; 0.2.0 finds its rows through orders (issue 17)
CREATE TABLE app.order_notes (order_id int NOT NULL REFERENCES app.orders (id), note text);
CREATE INDEX ON app.order_notes (order_id);
INSERT INTO app.order_notes SELECT id, 'note ' || id FROM app.orders WHERE id % 2 = 1;
});
my $notes_sql = q{SELECT count(*) || ':' || coalesce(sum(n.order_id), 0) FROM app.order_notes n
                  JOIN app.orders o ON o.id = n.order_id WHERE o.tenant_id = 1};
my $notes_before = $node->safe_psql('postgres', $notes_sql);

sub rows_of
{
	my ($n, $tenant) = @_;
	return $n->safe_psql('postgres',
		"SELECT string_agg(format('%s|%s|%s|%s', c.id, c.name, c.m, o.total), ',' ORDER BY c.id) "
		  . "FROM app.customers c JOIN app.orders o ON o.customer_id = c.id WHERE c.tenant_id = $tenant");
}
my %before = map { $_ => rows_of($node, $_) } (1, 2, 3);

# Tenant 1 unencrypted; tenants 2 and 3 encrypted under the master key file.
my $id1 = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1', 'made by 0.1.0')");
$node->append_conf('postgresql.conf', "tenant_backup.encryption_key_file = '$key_file'");
$node->reload;
my $id2 = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('2', 'made by 0.1.0')");
my $id3 = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('3')");
is($node->safe_psql('postgres', "SELECT string_agg(encrypted::text, ',' ORDER BY id) FROM tenant_backup.backups"),
	'false,true,true', 'one plain and two encrypted backups made by 0.1.0');
$node->safe_psql('postgres',
	"SELECT tenant_backup.backup_schedule_set('1', '30 1 * * *', 'Asia/Kolkata', keep_last => 0, keep_monthly => 12, "
	  . "window_minutes => 30)");
$node->stop;

# The same data directory, this version's module.
$node->{_install_path} = undef;    # from now on the binaries on PATH: the system's installation
$node->start;
$node->safe_psql('postgres', 'ALTER EXTENSION tenant_backup UPDATE');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'tenant_backup'"),
	'0.2.0', 'updated to 0.2.0');
# issue 18: right after the update no repository describes the backups of 0.1.0 yet, so attach
# could not bring them back: DROP EXTENSION is refused saying so, and to run backup_sync() first.
my (undef, undef, $refusal) = $node->psql('postgres', 'DROP EXTENSION tenant_backup');
like($refusal,
	qr/DROP EXTENSION tenant_backup would destroy the catalog of 3 backup\(s\), \d+ tenant key\(s\) and 0 registered repository\(ies\); 3 of the backups have no record in any repository yet, so attach could not bring them back/,
	'after the update, DROP EXTENSION is refused: the backups of 0.1.0 have no record yet');
like($refusal, qr/Run SELECT \* FROM tenant_backup.backup_sync\(\) first/, 'saying to run backup_sync() first');
like($refusal, qr/drop_confirmed = on to drop it anyway: those backups could then never be restored/,
	'and what dropping it anyway would cost');
unlike($refusal, qr/backup_attach\('local'\)/, 'never that attach brings them back');
is( $node->safe_psql('postgres',
		"SELECT string_agg(state || ' ' || (backup_id = original_backup_id), ',') FROM tenant_backup.backup_repository_scan('local') "
		  . "WHERE original_backup_id IN ($id1, $id2, $id3)"),
	'no_record true,no_record true,no_record true', 'and the scan lists their archives, known, as without a record');

for my $id ($id1, $id2, $id3)
{
	is($node->safe_psql('postgres', "SELECT ok FROM tenant_backup.backup_verify($id)"),
		't', "backup $id of 0.1.0 verifies");
}
like($node->safe_psql('postgres', "SELECT string_agg(line, E'\\n') FROM tenant_backup.backup_download($id2) line"),
	qr/"customer 1"/, "an encrypted backup of 0.1.0 downloads");

# Damage every tenant, then restore each from its 0.1.0 backup.
$node->safe_psql('postgres',
	"DELETE FROM app.orders WHERE id % 2 = 0; UPDATE app.customers SET name = 'damaged', m = 'sad'");
for my $pair ([ 1, $id1 ], [ 2, $id2 ], [ 3, $id3 ])
{
	my ($tenant, $id) = @$pair;
	$node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_restore($id)");
	is(rows_of($node, $tenant), $before{$tenant}, "tenant $tenant restored exactly from backup $id of 0.1.0");
}

# New backups after the update still work beside the old ones, and restore too.
my $id4 = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1', 'made by 0.2.0')");
$node->safe_psql('postgres', "UPDATE app.customers SET name = 'changed' WHERE tenant_id = 1");
$node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_restore($id4)");
is(rows_of($node, 1), $before{1}, 'a backup made after the update restores too');
is($node->safe_psql('postgres', $notes_sql), $notes_before,
	"the 0.1.0 backups' restores left the table they did not hold (order_notes) as it was");
is( $node->safe_psql(
		'postgres',
		"SELECT rows_found_by || ' ' || path FROM tenant_backup.backup_tables() WHERE table_name = 'app.order_notes'::regclass"
	),
	'path order_notes_order_id_fkey -> app.orders',
	'after the update, order_notes is found through its foreign key');
my $id5 = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1', 'whole tenant')");
$node->safe_psql('postgres',
	"DELETE FROM app.order_notes n USING app.orders o WHERE o.id = n.order_id AND o.tenant_id = 1");
$node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_restore($id5)");
is($node->safe_psql('postgres', $notes_sql), $notes_before, 'a backup made after the update restores order_notes too');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tenant_backup.backup_table_gaps()'), '0',
	'the 0.2.0 API is there after the update');

# issue 19.1: after the update, arguments left out keep the values of a schedule 0.1.0 stored.
$node->safe_psql('postgres', "SELECT tenant_backup.backup_schedule_set('1', '0 2 * * *')");
is( $node->safe_psql('postgres',
		"SELECT concat_ws(' ', cron, time_zone, keep_last, keep_monthly, window_minutes) "
		  . "FROM tenant_backup.schedules WHERE tenant = '1'"),
	'0 2 * * * Asia/Kolkata 0 12 30',
	'a schedule of 0.1.0 changed by cron alone keeps its zone, retention and window');

# issue 18: the update writes nothing to the repositories; the next backup_sync() describes the
# 0.1.0 backups (a record beside each archive) and writes every tenant key, and then a new
# database with the same schema and master key attaches them all and restores them exactly.
my $sync = $node->safe_psql('postgres',
	"SELECT string_agg(action, ',' ORDER BY action) FROM tenant_backup.backup_sync() WHERE action IN ('write_record', 'write_key') AND ok");
# (The restores above took pre_restore backups of 0.2.0, encrypted, which wrote their tenants' keys
# already: the keys may be written then or now; the attach below needs them all.)
like($sync, qr/^(write_key,)*(write_record,){2}write_record$/, 'backup_sync describes the backups of 0.1.0');
is( $node->safe_psql('postgres',
		"SELECT string_agg(state || ' ' || authenticated, ',') FROM tenant_backup.backup_repository_scan('local') "
		  . "WHERE original_backup_id IN ($id1, $id2, $id3)"),
	'known true,known true,known true', 'and the repository lists them, authenticated');
is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backups WHERE described_at IS NULL AND id IN ($id1, $id2, $id3)"),
	'0', 'described (described_at)');
(undef, undef, $refusal) = $node->psql('postgres', 'DROP EXTENSION tenant_backup');
like($refusal, qr/DROP EXTENSION tenant_backup would destroy the catalog of \d+ backup\(s\)/,
	'DROP EXTENSION is still refused after the sync');
unlike($refusal, qr/no record/, 'no longer for want of records');
like($refusal, qr/backup_attach\('local'\)/, 'but saying that attach brings the backups back');
$node->safe_psql('postgres', 'CREATE DATABASE rebuilt');
$node->safe_psql('rebuilt', q{
CREATE EXTENSION tenant_backup;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SCHEMA app;
CREATE TABLE app.customers (tenant_id int NOT NULL, id serial PRIMARY KEY, name text NOT NULL, m mood);
CREATE TABLE app.orders (tenant_id int NOT NULL, id serial PRIMARY KEY,
                         customer_id int NOT NULL REFERENCES app.customers (id), total numeric(12, 2));
CREATE TABLE app.order_notes (order_id int NOT NULL REFERENCES app.orders (id), note text);
});
is( $node->safe_psql('rebuilt',
		"SELECT count(*) FROM tenant_backup.backup_attach('local') WHERE outcome = 'attached' AND original_backup_id IN ($id1, $id2, $id3)"),
	'3', 'a new database attaches the three backups of 0.1.0');
for my $pair ([ 1, $id1 ], [ 2, $id2 ], [ 3, $id3 ])
{
	my ($tenant, $orig) = @$pair;
	my $id = $node->safe_psql('rebuilt', "SELECT id FROM tenant_backup.backups WHERE original_id = $orig");
	$node->safe_psql('rebuilt', "SELECT count(*) FROM tenant_backup.backup_restore($id)");
	is( $node->safe_psql('rebuilt',
			"SELECT string_agg(format('%s|%s|%s|%s', c.id, c.name, c.m, o.total), ',' ORDER BY c.id) "
			  . "FROM app.customers c JOIN app.orders o ON o.customer_id = c.id WHERE c.tenant_id = $tenant"),
		$before{$tenant}, "tenant $tenant restored exactly into the new database from backup $orig of 0.1.0");
}

$node->stop;
done_testing();
