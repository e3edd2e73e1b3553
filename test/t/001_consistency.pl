# Consistency under concurrent writes.
#
# Writer sessions keep moving random amounts between accounts_a and accounts_b of tenant 1, one
# transaction per transfer (sometimes sleeping between the two UPDATEs), so
# sum(accounts_a) + sum(accounts_b) of tenant 1 is constant at every commit.  Meanwhile the main
# session takes many backups of tenant 1.  Every backup must come from one snapshot: restoring it
# gives back a state where the invariant holds, with the row counts the catalog recorded, and
# leaves tenant 2 alone.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $n_rows = 20000;    # rows of tenant 1 in each table: reading a table takes a while
my $n_writers = 3;
my $max_transfers = 20000;    # per writer; they normally stop at the flag long before
my $n_backups = 15;

my $node = PostgreSQL::Test::Cluster->new('consistency');
$node->init;
# Backups are encrypted, as in production (a master key from a command; see 006 for key files).
$node->append_conf('postgresql.conf',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'");
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION tenant_backup;
CREATE TABLE accounts_a (tenant_id int NOT NULL, id int NOT NULL, balance bigint NOT NULL,
                         PRIMARY KEY (tenant_id, id));
CREATE TABLE accounts_b (LIKE accounts_a INCLUDING ALL);
CREATE INDEX ON accounts_a (tenant_id);
CREATE INDEX ON accounts_b (tenant_id);
INSERT INTO accounts_a SELECT 1, g, 1000 FROM generate_series(1, $n_rows) g;
INSERT INTO accounts_b SELECT 1, g, 1000 FROM generate_series(1, $n_rows) g;
INSERT INTO accounts_a SELECT 2, g, 7 * g FROM generate_series(1, 500) g;
INSERT INTO accounts_b SELECT 2, g, 11 * g FROM generate_series(1, 700) g;
-- bookkeeping outside the tenant tables: progress counter and stop flag of the writers
CREATE SCHEMA ctl;
CREATE SEQUENCE ctl.transfers;
CREATE TABLE ctl.flag (stop boolean NOT NULL);
INSERT INTO ctl.flag VALUES (false);
ANALYZE;
});

is( $node->safe_psql(
		'postgres',
		'SELECT string_agg(table_name::text, \',\' ORDER BY table_name::text) FROM tenant_backup.backup_tables()'
	),
	'accounts_a,accounts_b',
	'the two accounts tables are the tenant tables');

my $sums_sql = q{SELECT (SELECT sum(balance) FROM accounts_a WHERE tenant_id = 1)
                      + (SELECT sum(balance) FROM accounts_b WHERE tenant_id = 1)};
my $tenant2_sql = q{SELECT md5(string_agg(x, ';' ORDER BY x)) FROM (
    SELECT 'a' || id || ':' || balance AS x FROM accounts_a WHERE tenant_id = 2
    UNION ALL SELECT 'b' || id || ':' || balance FROM accounts_b WHERE tenant_id = 2) s};
my $total = $node->safe_psql('postgres', $sums_sql);
my $tenant2 = $node->safe_psql('postgres', $tenant2_sql);
is($total, 2 * 1000 * $n_rows, 'initial total of tenant 1');

# Start the writers: a DO block that commits every transfer, until the flag is set.
my @writers;
for my $w (1 .. $n_writers)
{
	my $s = $node->background_psql('postgres');
	$s->query_until(
		qr/started/, qq{
\\echo started
DO \$\$
DECLARE
    x int; ra int; rb int;
BEGIN
    FOR i IN 1 .. $max_transfers LOOP
        EXIT WHEN i % 10 = 0 AND (SELECT stop FROM ctl.flag);
        x := 1 + floor(random() * 100)::int;
        ra := 1 + floor(random() * $n_rows)::int;
        rb := 1 + floor(random() * $n_rows)::int;
        UPDATE accounts_a SET balance = balance - x WHERE tenant_id = 1 AND id = ra;
        IF i % 4 = 0 THEN
            PERFORM pg_sleep(0.002);   -- widen the window between the two halves
        END IF;
        UPDATE accounts_b SET balance = balance + x WHERE tenant_id = 1 AND id = rb;
        PERFORM nextval('ctl.transfers');
        COMMIT;
    END LOOP;
END
\$\$;
});
	push @writers, $s;
}

# Wait until the writers are really committing.
ok( $node->poll_query_until(
		'postgres', 'SELECT last_value > 200 FROM ctl.transfers'),
	'writers are committing transfers');

# Sanity check of the test itself: a reader that takes a new snapshot per table does see the
# invariant broken, so the check on the backups below can tell a torn backup.
my $torn = 0;
for (1 .. 20)
{
	my $sum = $node->safe_psql(
		'postgres', q{
SELECT sum(balance) FROM accounts_a WHERE tenant_id = 1;
SELECT pg_sleep(0.02);
SELECT sum(balance) FROM accounts_b WHERE tenant_id = 1;});
	my ($sa, undef, $sb) = split /\n/, $sum;
	$torn++ if $sa + $sb != $total;
}
cmp_ok($torn, '>', 0,
	"a per-statement-snapshot reader sees torn transfers ($torn of 20)");

# Take the backups while the writers run.
my $progress_before = $node->safe_psql('postgres', 'SELECT last_value FROM ctl.transfers');
my @ids;
my $t0 = time;
for (1 .. $n_backups)
{
	push @ids,
	  $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1')");
	usleep(50_000);
}
note sprintf('%d backups took %.1f s', $n_backups, time - $t0);
my $progress_after = $node->safe_psql('postgres', 'SELECT last_value FROM ctl.transfers');
cmp_ok($progress_after - $progress_before,
	'>=', $n_backups, 'transfers were committed while the backups ran');

# Stop the writers and wait for their DO blocks to end.
$node->safe_psql('postgres', 'UPDATE ctl.flag SET stop = true');
for my $s (@writers)
{
	$s->query('SELECT 1');    # returns once the DO block has ended
	is($s->{stderr}, '', 'writer session ended without error');
	$s->quit;
}
is($node->safe_psql('postgres', $sums_sql),
	$total, 'the invariant holds in the live tables');

is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM tenant_backup.backups WHERE status = 'completed' AND tenant = '1'"
	),
	$n_backups,
	'every backup is completed in the catalog');

# Restore every backup inside a transaction that is rolled back, and check what it brought back.
my %states;
for my $id (@ids)
{
	my $res = $node->safe_psql(
		'postgres', qq{
BEGIN;
CREATE TEMP TABLE r ON COMMIT DROP AS SELECT * FROM tenant_backup.backup_restore($id);
SELECT ($sums_sql),
       (SELECT count(*) FROM accounts_a WHERE tenant_id = 1),
       (SELECT count(*) FROM accounts_b WHERE tenant_id = 1),
       (SELECT (t->>'rows')::bigint FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t
         WHERE b.id = $id AND t->>'name' = 'accounts_a'),
       (SELECT (t->>'rows')::bigint FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t
         WHERE b.id = $id AND t->>'name' = 'accounts_b'),
       (SELECT row_count FROM tenant_backup.backups WHERE id = $id),
       (SELECT string_agg(table_name || '=' || rows_restored, ',' ORDER BY table_name) FROM r),
       ($tenant2_sql),
       (SELECT sum(balance) FROM accounts_a WHERE tenant_id = 1);
ROLLBACK;});
	my ($sum, $ca, $cb, $ja, $jb, $rc, $restored, $t2, $suma) = split /\|/, $res;
	is($sum, $total, "backup $id restores a state where the invariant holds");
	ok( $ca == $n_rows && $cb == $n_rows && $ja == $n_rows && $jb == $n_rows && $rc == 2 * $n_rows,
		"backup $id: row counts match the catalog ($ca/$cb restored, $ja/$jb/$rc recorded)");
	is($restored, "public.accounts_a=$n_rows,public.accounts_b=$n_rows",
		"backup $id: backup_restore reports the rows it loaded");
	is($t2, $tenant2, "backup $id: restoring tenant 1 leaves tenant 2 unchanged");
	$states{$suma} = 1;
}
# The backups saw different moments (else this test would prove nothing about snapshots).
cmp_ok(scalar(keys %states), '>', 1,
	'the backups captured different states of tenant 1 (' . scalar(keys %states) . ' distinct)');

# The rollbacks left everything as it was.
is($node->safe_psql('postgres', $sums_sql), $total, 'the rolled-back restores changed nothing');
is($node->safe_psql('postgres', $tenant2_sql), $tenant2, 'tenant 2 is unchanged');

$node->stop;
done_testing();
