# Citus (issue 15): a restore refuses every Citus table kind it does not write through Citus
# (tables distributed by another column than the tenant column, distributed tables not co-located
# with the others, Citus local tables, append-distributed tables, and reference tables found in a
# backup taken before they became reference tables) before it changes anything, so no tenant's
# rows can be loaded into the coordinator's shell tables past Citus (where 0.1.0 lost them).
# Restores of supported tables: 021_citus_restore.pl. Runs on a real cluster: a coordinator and
# two workers, Citus built from ../shared/citus by scripts/test.sh. Skipped with a clear line when
# Citus is not installed.
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
CREATE TABLE notes (tenant_id int NOT NULL, id int PRIMARY KEY, body text);
INSERT INTO notes SELECT 1 + g % 10, g, 'note ' || g FROM generate_series(1, 100) g;
CREATE TABLE plans (id int PRIMARY KEY, name text, tenant_id int);
INSERT INTO plans VALUES (1, 'basic', 7), (2, 'pro', 7);
});

# Each unsupported kind in turn: the backup works (it reads through Citus), the restore is refused
# before anything changes, then the table leaves the backups for the next case.
sub refused
{
	my ($table, $error, $what) = @_;
	my $rows = sql("SELECT count(*) FROM $table WHERE tenant_id = 7");
	my $bid = sql("SELECT tenant_backup.backup_create('7')");
	sql('DELETE FROM notes WHERE tenant_id = 7 AND id > 50');
	my $notes = sql('SELECT count(*) FROM notes WHERE tenant_id = 7');
	my ($rc, $out, $err) = $coordinator->psql('postgres', "SELECT * FROM tenant_backup.backup_restore($bid)");
	isnt($rc, 0, "$what: the restore is refused");
	like($err, $error, "$what: the error says why");
	is(sql("SELECT count(*) FROM $table WHERE tenant_id = 7"), $rows, "$what: the table's rows are untouched");
	is(sql('SELECT count(*) FROM notes WHERE tenant_id = 7'), $notes, "$what: and so are the local table's");
	sql("SELECT tenant_backup.backup_exclude_table('$table')");
	return $bid;
}

# A backup of the plain table that later becomes a reference table (shared data).
my $before_reference = sql("SELECT tenant_backup.backup_create('7')");

sql(q{
CREATE TABLE posts (tenant_id int NOT NULL, id int PRIMARY KEY, body text);
SELECT create_distributed_table('posts', 'id');
INSERT INTO posts SELECT 1 + g % 10, g, 'post ' || g FROM generate_series(1, 100) g;
});
sql("SELECT tenant_backup.backup_exclude_table('plans')");
refused('posts', qr/cannot restore into table public\.posts: it is a Citus table distributed by column "id"/,
	'distributed by another column');

sql(q{
CREATE TABLE ads (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('ads', 'tenant_id');
CREATE TABLE pins (tenant_id int NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('pins', 'tenant_id', colocate_with => 'none');
INSERT INTO ads SELECT t, g FROM generate_series(1, 10) t, generate_series(1, 5) g;
INSERT INTO pins SELECT t, g FROM generate_series(1, 10) t, generate_series(1, 5) g;
});
refused('pins', qr/cannot restore into table public\.(ads|pins): it is a Citus table not co-located/, 'not co-located');

sql(q{
CREATE TABLE drafts (tenant_id int NOT NULL, id int PRIMARY KEY, body text);
SELECT citus_add_local_table_to_metadata('drafts');
INSERT INTO drafts SELECT 1 + g % 10, g, 'draft ' || g FROM generate_series(1, 100) g;
});
refused('drafts', qr/cannot restore into table public\.drafts: it is a Citus local table/, 'a Citus local table');

sql(q{
CREATE TABLE events (tenant_id int NOT NULL, id int, body text);
SELECT create_distributed_table('events', 'tenant_id', 'append');
});
my $append_shard = sql("SELECT master_create_empty_shard('events')");
sql("COPY events FROM PROGRAM 'seq 1 30 | sed \"s/.*/7,&,x/\"' WITH (format csv, append_to_shard $append_shard)");
refused('events', qr/cannot restore into table public\.events: it is a Citus table that is not hash-distributed/,
	'an append-distributed table');

sql("SELECT create_reference_table('plans')");
sql("UPDATE plans SET name = 'changed'");
my ($rc, $out, $err) = $coordinator->psql('postgres', "SELECT * FROM tenant_backup.backup_restore($before_reference)");
like($err, qr/cannot restore into table public\.plans: it is a Citus reference table/,
	'a backup taken while a table was not a reference table is refused');
is(sql("SELECT string_agg(name, ',') FROM plans"), 'changed,changed', 'the reference table is untouched');

# The supported case for contrast: with the unsupported tables out of backups, it restores.
my $ok = sql("SELECT tenant_backup.backup_create('7')");
my $notes = sql('SELECT count(*) FROM notes WHERE tenant_id = 7');
sql('DELETE FROM ads WHERE tenant_id = 7; DELETE FROM notes WHERE tenant_id = 7');
is(sql("SELECT string_agg(table_name || ' ' || rows_restored, ',' ORDER BY table_name::text) FROM tenant_backup.backup_restore($ok)"),
	"public.ads 5,public.notes $notes", 'a distributed table co-located with nothing else and a local table restore');
is(sql('SELECT count(*) FROM ads WHERE tenant_id = 7'), '5', "tenant 7's distributed rows are back");

$_->stop for reverse @nodes;
done_testing();
