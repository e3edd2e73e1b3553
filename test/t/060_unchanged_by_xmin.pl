# Issue 21: a comparison takes a live row inserted before the backup read and never updated since
# (its xmin older than the backup's snapshot_xmin) as unchanged without encoding it
# (src/pg/archive/unchanged_rows.hpp). Each case here would give wrong counts, or a restore that
# leaves a difference, if the shortcut were taken where it must not be:
#  - rows updated, deleted and inserted since, frozen by VACUUM FREEZE afterwards;
#  - a row updated by the transaction that took the backup, after the backup;
#  - a column renamed and another added under its name; tables swapped by renames;
#  - an enum column (a label renamed since changes what its send function writes);
#  - a backup taken under a client encoding other than the database's;
#  - a backup from before the upgrade that records it (snapshot_xmin NULL);
#  - a backup whose WAL position is not on this server's timeline, or ahead of its WAL (a server
#    restored to a point before the backup gives out its transaction ids again);
#  - tenant_backup.restore_renames mapping an archived table onto another that existed before the
#    backup and was not altered since (its old rows are not the archived ones); a restore refuses
#    that, and any comparison a column mapped onto another the backup holds too.
# The DEBUG1 line each comparison writes says how many rows it took as unchanged by their xmin.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('unchanged_by_xmin',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'\n"
	  . "tenant_backup.pre_restore_backup = off\n");

# The diff's counts (added removed changed unchanged, per table) and the DEBUG1 lines of the
# rows taken as unchanged by their xmin (table => count, and the lines, "table: count").
sub diff {
	my ($id, $settings) = @_;
	my ($rc, $out, $err) = $node->psql('postgres',
		($settings // '') . "SET client_min_messages = debug1; SELECT table_name || ' ' || only_in_backup || ' ' || only_live || ' ' "
		  . "|| changed || ' ' || unchanged FROM tenant_backup.backup_diff($id) ORDER BY 1");
	die "backup_diff failed: $err" if $rc;
	my @lines = $err =~ /tenant_backup: (\S+: \d+) live rows unchanged since backup \d+ by their xmin/g;
	my %by_xmin = map { split /: / } @lines;
	return ($out, \%by_xmin, \@lines);
}

sql(q{
CREATE EXTENSION tenant_backup;
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE TABLE items (id bigint PRIMARY KEY, tenant_id text NOT NULL, body text, doc jsonb, amount numeric);
CREATE TABLE moods (id int PRIMARY KEY, tenant_id text NOT NULL, m mood NOT NULL);
CREATE TABLE left_t (id int PRIMARY KEY, tenant_id text NOT NULL, v text NOT NULL);
CREATE TABLE right_t (id int PRIMARY KEY, tenant_id text NOT NULL, v text NOT NULL);
CREATE INDEX ON items (tenant_id);
CREATE INDEX ON moods (tenant_id);
CREATE INDEX ON left_t (tenant_id);
CREATE INDEX ON right_t (tenant_id);
INSERT INTO items SELECT g, t, 'body ' || g, jsonb_build_object('n', g), g * 1.5
  FROM unnest(ARRAY['1', '2']) t, generate_series(1, 1000) g WHERE (g % 2 = 0) = (t = '1');
INSERT INTO moods SELECT g, '1', 'calm' FROM generate_series(1, 50) g;
INSERT INTO left_t SELECT g, '1', 'left ' || g FROM generate_series(1, 20) g;
INSERT INTO right_t SELECT g, '1', 'right ' || g FROM generate_series(1, 20) g;
});
my $state_sql = q{SELECT md5(string_agg(id || '=' || body || doc::text || amount, ',' ORDER BY id))
  FROM items WHERE tenant_id = '1'};
my $b1 = sql("SELECT tenant_backup.backup_create('1')");
my $backup_state = sql($state_sql);
is(sql("SELECT snapshot_xmin IS NOT NULL AND system_identifier = (SELECT system_identifier::text FROM pg_control_system()) "
	  . "FROM tenant_backup.backups WHERE id = $b1"),
	't', 'a backup records its snapshot xmin and the cluster');

my ($counts, $by_xmin) = diff($b1);
is($counts, "public.items 0 0 0 500\npublic.left_t 0 0 0 20\npublic.moods 0 0 0 50\npublic.right_t 0 0 0 20",
	'nothing changed: every row unchanged');
is($by_xmin->{'public.items'}, 500, 'every row of items taken as unchanged by its xmin');
ok(!exists $by_xmin->{'public.moods'}, 'not the rows of a table with an enum column');

# Changed since: 5 updated, 3 deleted, 2 inserted, then everything frozen (xmin as it was).
sql(q{
UPDATE items SET body = body || ' edited' WHERE tenant_id = '1' AND id IN (2, 4, 6, 8, 10);
DELETE FROM items WHERE tenant_id = '1' AND id IN (12, 14, 16);
INSERT INTO items VALUES (2002, '1', 'new', '{}', 1), (2004, '1', 'new', '{}', 2);
VACUUM (FREEZE) items;
});
($counts, $by_xmin) = diff($b1);
like($counts, qr/^public.items 3 2 5 492$/m, 'changes since the backup are counted after VACUUM FREEZE');
is($by_xmin->{'public.items'}, 492, 'only the rows never touched since are taken by their xmin');

# The restore applies exactly those differences and ends as the backup.
sql("SELECT count(*) FROM tenant_backup.backup_restore($b1)");
is(sql($state_sql), $backup_state, 'the restore ends exactly as the backup');
($counts) = diff($b1);
like($counts, qr/^public.items 0 0 0 500$/m, 'and a diff then finds nothing');

# The backup's own transaction updates a row after the backup: that row version carries the
# transaction's id, which the snapshot leaves out of its xmin.
# (Another transaction takes an id and commits after it began, so that the snapshot's xmin is
# past every other transaction's.)
my $session = $node->background_psql('postgres');
$session->query_safe("BEGIN");
$session->query_safe("UPDATE items SET body = 'before the backup' WHERE id = 20");
sql("CREATE TABLE takes_an_xid (); DROP TABLE takes_an_xid");
my $b2 = $session->query_safe("SELECT tenant_backup.backup_create('1')");
$session->query_safe("UPDATE items SET body = 'after the backup, same transaction' WHERE id = 20");
$session->query_safe("COMMIT");
$session->quit;
($counts, $by_xmin) = diff($b2);
like($counts, qr/^public.items 0 0 1 499$/m, 'a row its own transaction updated after the backup is changed');

# A column renamed and another added under its old name; two tables swapped by renames.
my $b3 = sql("SELECT tenant_backup.backup_create('1')");
sql(q{
ALTER TABLE items RENAME COLUMN body TO body_old;
ALTER TABLE items ADD COLUMN body text DEFAULT 'added';
ALTER TABLE left_t RENAME TO swap_t;
ALTER TABLE right_t RENAME TO left_t;
ALTER TABLE swap_t RENAME TO right_t;
});
($counts, $by_xmin) = diff($b3);
like($counts, qr/^public.items 0 0 500 0$/m, 'a column added under a renamed one\'s name: every row changed');
like($counts, qr/^public.left_t 0 0 20 0$/m, 'a table swapped in by renames: every row changed');
ok(!exists $by_xmin->{'public.items'} && !exists $by_xmin->{'public.left_t'},
	'and neither took the shortcut');
sql(q{
ALTER TABLE items DROP COLUMN body;
ALTER TABLE items RENAME COLUMN body_old TO body;
});

# An enum label renamed since: the row is the same, its text is not.
my $b4 = sql("SELECT tenant_backup.backup_create('1')");
sql("ALTER TYPE mood RENAME VALUE 'calm' TO 'quiet'");
($counts) = diff($b4);
like($counts, qr/^public.moods 0 0 50 0$/m, 'rows of an enum whose label was renamed are changed');

# A backup under another client encoding records no snapshot xmin: its text is not our bytes.
my $b5 = sql("SET client_encoding = 'LATIN1'; SELECT tenant_backup.backup_create('1')");
is(sql("SELECT snapshot_xmin IS NULL FROM tenant_backup.backups WHERE id = $b5"),
	't', 'under another client encoding, no snapshot xmin is recorded');

# A backup without a recorded snapshot xmin (as 0.1.0 took them) is compared row by row.
my $b6 = sql("SELECT tenant_backup.backup_create('1')");
sql("UPDATE tenant_backup.backups SET snapshot_xmin = NULL WHERE id = $b6");
($counts, $by_xmin) = diff($b6);
like($counts, qr/^public.items 0 0 0 500$/m, 'without it the counts are the same');
ok(!exists $by_xmin->{'public.items'}, 'and no row is taken by its xmin');

# tenant_backup.restore_renames maps a table dropped since onto another, older than the backup
# and not altered since, and a column dropped since onto an older column: their rows, old as they
# are, are not the rows archived.
sql(q{
CREATE TABLE old_notes (id int PRIMARY KEY, tenant_id text NOT NULL, v text NOT NULL);
CREATE TABLE notes (id int PRIMARY KEY, tenant_id text NOT NULL, v text NOT NULL);
CREATE TABLE cards (id int PRIMARY KEY, tenant_id text NOT NULL, title text, heading text);
INSERT INTO old_notes SELECT g, '1', 'note ' || g FROM generate_series(1, 30) g;
INSERT INTO notes SELECT g, '1', CASE WHEN g <= 10 THEN 'note ' || g ELSE 'other ' || g END
  FROM generate_series(1, 30) g;
INSERT INTO cards SELECT g, '1', 'title ' || g, CASE WHEN g <= 5 THEN 'title ' || g ELSE 'heading ' || g END
  FROM generate_series(1, 20) g;
});
my $b7 = sql("SELECT tenant_backup.backup_create('1')");
sql("DROP TABLE old_notes; ALTER TABLE cards DROP COLUMN title");
my $lines;
($counts, $by_xmin, $lines) =
  diff($b7, "SET tenant_backup.restore_renames = 'public.old_notes=public.notes'; ");
# (notes is compared twice: as itself, and as old_notes mapped onto it)
like($counts, qr/^public.notes 0 0 0 30\npublic.notes 0 0 20 10$/m,
	'a table mapped onto an older one: its other rows are changed');
is(join(',', grep { /^public\.notes:/ } @$lines), 'public.notes: 30',
	'and only notes as itself took the shortcut');
# A restore refuses to load two archived tables into one (the second would delete what the first
# loaded), and any comparison refuses two archived columns into one.
my ($rc, $out, $err) = $node->psql('postgres',
	"SET tenant_backup.restore_renames = 'public.old_notes=public.notes'; SELECT * FROM tenant_backup.backup_restore($b7)");
like($err, qr/tables public\.(old_notes|notes) and public\.(old_notes|notes) of backup $b7 would both be restored into table public\.notes; nothing was restored/,
	'a restore refuses two archived tables mapped into one');
($rc, $out, $err) = $node->psql('postgres',
	"SET tenant_backup.restore_renames = 'public.cards.title=heading'; SELECT * FROM tenant_backup.backup_diff($b7)");
like($err, qr/column "heading" of table public\.cards would receive two columns of backup $b7/,
	'a column mapped onto one the backup holds too is refused');

# The backup's WAL position on another timeline (as after a point-in-time recovery to a point
# before it, which starts a timeline of its own; or a promotion since), or ahead of this server's
# WAL: its transaction ids may have been given out again since.
my $b8 = sql("SELECT tenant_backup.backup_create('1')");
is(sql("SELECT snapshot_timeline = (SELECT timeline_id FROM pg_control_checkpoint()) AND snapshot_lsn <= pg_current_wal_lsn() "
	  . "FROM tenant_backup.backups WHERE id = $b8"),
	't', 'a backup records its timeline and WAL position');
sql("UPDATE tenant_backup.backups SET snapshot_timeline = snapshot_timeline + 1 WHERE id = $b8");
($counts, $by_xmin) = diff($b8);
like($counts, qr/^public.items 0 0 0 500$/m, 'on another timeline: the counts are the same');
ok(!exists $by_xmin->{'public.items'}, 'and no row is taken by its xmin');
sql("UPDATE tenant_backup.backups SET snapshot_timeline = snapshot_timeline - 1, "
	  . "snapshot_lsn = pg_current_wal_lsn() + 1000000000 WHERE id = $b8");
($counts, $by_xmin) = diff($b8);
ok(!exists $by_xmin->{'public.items'}, 'nor ahead of this server\'s WAL');
sql("UPDATE tenant_backup.backups SET snapshot_lsn = pg_current_wal_lsn() WHERE id = $b8");
($counts, $by_xmin) = diff($b8);
is($by_xmin->{'public.items'}, 500, 'on its timeline, behind its WAL: taken');

# A restore after most rows were written since: the xmin of a first sample of them says so, a first
# sample of the backup's rows differs, and the table is deleted and reloaded without its rows read
# into memory to compare first. Restored again after a few rows written: every row has a new xmin
# (the restore wrote them), but the backup's sample is the same, so it is compared. The result is
# the backup either way.
sql(q{
CREATE TABLE big_t (id int PRIMARY KEY, tenant_id text NOT NULL, v text NOT NULL);
CREATE INDEX ON big_t (tenant_id);
INSERT INTO big_t SELECT g, '1', 'v ' || g FROM generate_series(1, 3000) g;
});
my $b9 = sql("SELECT tenant_backup.backup_create('1')");
my $big_state = q{SELECT md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM big_t};
my $big_backup = sql($big_state);
sub restore_log {
	my ($id) = @_;
	my ($rc, $out, $err) = $node->psql('postgres',
		"SET client_min_messages = debug1; SELECT table_name || ' ' || rows_removed || ' ' || rows_restored "
		  . "FROM tenant_backup.backup_restore($id) WHERE table_name = 'public.big_t'");
	die "backup_restore failed: $err" if $rc;
	return ($out, $err);
}
sql("UPDATE big_t SET v = v || ' edited'");
my ($restored, $log) = restore_log($b9);
like($log, qr/public\.big_t: most of first samples of its rows were written since backup $b9 and differ: deleted and reloaded/,
	'every row written since: deleted and reloaded at once');
is(sql($big_state), $big_backup, 'and the table is as the backup');
sql("UPDATE big_t SET v = v || ' edited' WHERE id <= 10");
($restored, $log) = restore_log($b9);
unlike($log, qr/public\.big_t: most of first samples/,
	'restored again after a few rows written: compared (the rows it wrote back are the backup\'s, under new xmins)');
is(sql($big_state), $big_backup, 'and the table is as the backup again');

done_testing();
