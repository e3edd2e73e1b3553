# Whole tenants under concurrent writes: only projects carry the tenant column; tasks and comments
# are found through foreign keys (tasks -> projects, comments -> tasks). Writers keep committing
# transactions that insert a project with 3 tasks of 2 comments each, pausing between the inserts.
# Every backup must hold each such transaction wholly or not at all: 3 tasks and 6 comments per
# project, in the catalog's counts and in what a restore brings back.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $n_writers = 2;
my $n_backups = 12;

my $node = PostgreSQL::Test::Cluster->new('whole_tenant');
$node->init;
$node->append_conf('postgresql.conf',
	"tenant_backup.encryption_key_command = 'echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE projects (id bigserial PRIMARY KEY, tenant_id int NOT NULL, name text);
CREATE INDEX ON projects (tenant_id);
CREATE TABLE tasks (id bigserial PRIMARY KEY, project_id bigint NOT NULL REFERENCES projects, title text);
CREATE INDEX ON tasks (project_id);
CREATE TABLE comments (id bigserial PRIMARY KEY, task_id bigint NOT NULL REFERENCES tasks, body text);
CREATE INDEX ON comments (task_id);
-- tenant 2's rows, which no restore of tenant 1 may touch
INSERT INTO projects (tenant_id, name) SELECT 2, 'p' || g FROM generate_series(1, 50) g;
INSERT INTO tasks (project_id, title) SELECT p.id, 't' FROM projects p, generate_series(1, 4);
INSERT INTO comments (task_id, body) SELECT t.id, 'c' FROM tasks t;
CREATE SCHEMA ctl;
CREATE TABLE ctl.flag (stop boolean NOT NULL);
INSERT INTO ctl.flag VALUES (false);
});

is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(table_name || ':' || rows_found_by, ',' ORDER BY table_name::text)
          FROM tenant_backup.backup_tables()}),
	'comments:path,projects:tenant column,tasks:path',
	'tasks and comments are found through their foreign keys');

my $tenant2_sql = q{SELECT md5(string_agg(x, ';' ORDER BY x)) FROM (
    SELECT 'p' || id AS x FROM projects WHERE tenant_id = 2
    UNION ALL SELECT 't' || t.id FROM tasks t JOIN projects p ON p.id = t.project_id WHERE p.tenant_id = 2
    UNION ALL SELECT 'c' || c.id FROM comments c JOIN tasks t ON t.id = c.task_id
      JOIN projects p ON p.id = t.project_id WHERE p.tenant_id = 2) s};
my $tenant2 = $node->safe_psql('postgres', $tenant2_sql);

my @writers;
for my $w (1 .. $n_writers)
{
	my $s = $node->background_psql('postgres');
	$s->query_until(
		qr/started/, q{
\echo started
DO $$
DECLARE
    p bigint; t bigint;
BEGIN
    FOR i IN 1 .. 100000 LOOP
        EXIT WHEN (SELECT stop FROM ctl.flag);
        INSERT INTO projects (tenant_id, name) VALUES (1, 'p') RETURNING id INTO p;
        FOR k IN 1 .. 3 LOOP
            INSERT INTO tasks (project_id, title) VALUES (p, 't') RETURNING id INTO t;
            PERFORM pg_sleep(0.001);   -- the transaction stays open while backups start
            INSERT INTO comments (task_id, body) VALUES (t, 'a'), (t, 'b');
        END LOOP;
        COMMIT;
    END LOOP;
END
$$;
});
	push @writers, $s;
}
ok($node->poll_query_until('postgres', 'SELECT count(*) > 20 FROM projects WHERE tenant_id = 1'),
	'writers are committing');

my @ids;
for (1 .. $n_backups)
{
	push @ids, $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1')");
	usleep(40_000);
}
$node->safe_psql('postgres', 'UPDATE ctl.flag SET stop = true');
for my $s (@writers)
{
	$s->query('SELECT 1');
	is($s->{stderr}, '', 'writer session ended without error');
	$s->quit;
}

my %projects;
for my $id (@ids)
{
	my ($p, $t, $c) = split /\|/, $node->safe_psql(
		'postgres', qq{
SELECT (SELECT (t->>'rows')::bigint FROM jsonb_array_elements(tables) t WHERE t->>'name' = 'projects'),
       (SELECT (t->>'rows')::bigint FROM jsonb_array_elements(tables) t WHERE t->>'name' = 'tasks'),
       (SELECT (t->>'rows')::bigint FROM jsonb_array_elements(tables) t WHERE t->>'name' = 'comments')
FROM tenant_backup.backups WHERE id = $id});
	ok($t == 3 * $p && $c == 6 * $p, "backup $id holds whole transactions ($p projects, $t tasks, $c comments)");
	$projects{$p} = 1;

	my ($rp, $rt, $rc, $t2) = split /\|/, $node->safe_psql(
		'postgres', qq{
BEGIN;
CREATE TEMP TABLE r ON COMMIT DROP AS SELECT * FROM tenant_backup.backup_restore($id);
SELECT (SELECT count(*) FROM projects WHERE tenant_id = 1),
       (SELECT count(*) FROM tasks t JOIN projects p ON p.id = t.project_id WHERE p.tenant_id = 1),
       (SELECT count(*) FROM comments c JOIN tasks t ON t.id = c.task_id
          JOIN projects p ON p.id = t.project_id WHERE p.tenant_id = 1),
       ($tenant2_sql);
ROLLBACK;});
	ok($rp == $p && $rt == $t && $rc == $c, "backup $id restores exactly its rows ($rp/$rt/$rc)");
	is($t2, $tenant2, "backup $id: the restore leaves tenant 2 alone");
}
cmp_ok(scalar(keys %projects), '>', 1,
	'the backups captured different moments (' . scalar(keys %projects) . ' distinct)');

# Nothing is left over from the rolled-back restores, and no comment hangs from nothing.
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM comments c LEFT JOIN tasks t ON t.id = c.task_id WHERE t.id IS NULL}),
	'0', 'no comment lost its task');

$node->stop;
done_testing();
