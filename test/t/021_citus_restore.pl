# Citus (issue 15): restores from the coordinator of tables hash-distributed by the tenant column
# and co-located, on a real cluster of a coordinator and two workers (Citus built from
# ../shared/citus by scripts/test.sh). The tenant's rows are deleted and loaded through Citus, in
# the shards of the tenant on its worker, never in the coordinator's shell tables; reference
# tables (shared data) are neither deleted nor loaded; other tenants are untouched, checked shard
# by shard; the restore's statements go to the tenant's worker only; a restore killed mid-way
# leaves the tenant as it was on every worker. Skipped with a clear line when Citus is not installed.
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

# plans: a reference table (shared data) that even has a tenant column; ads and clicks: distributed
# by tenant_id and co-located, clicks referencing ads and both referencing plans; notes: a plain
# table of the coordinator.
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE plans (id int PRIMARY KEY, name text, tenant_id int);
SELECT create_reference_table('plans');
INSERT INTO plans VALUES (1, 'basic', 7), (2, 'pro', 7);
CREATE TABLE ads (tenant_id int NOT NULL, id int NOT NULL, title text, plan_id int REFERENCES plans (id),
  PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('ads', 'tenant_id', shard_count => 4);
CREATE TABLE clicks (tenant_id int NOT NULL, id int NOT NULL, ad_id int NOT NULL, at timestamptz DEFAULT now(),
  n bigserial, PRIMARY KEY (tenant_id, id), FOREIGN KEY (tenant_id, ad_id) REFERENCES ads (tenant_id, id));
SELECT create_distributed_table('clicks', 'tenant_id', colocate_with => 'ads');
INSERT INTO ads SELECT t, g, 'ad ' || g, 1 + g % 2 FROM generate_series(1, 10) t, generate_series(1, 50) g;
INSERT INTO clicks (tenant_id, id, ad_id, at) SELECT t, g, 1 + g % 50, '2026-01-01' FROM generate_series(1, 10) t, generate_series(1, 400) g;
INSERT INTO clicks (tenant_id, id, ad_id, at) SELECT 7, g, 1 + g % 50, '2026-01-02' FROM generate_series(401, 25000) g;
CREATE TABLE notes (tenant_id int NOT NULL, id int PRIMARY KEY, body text);
INSERT INTO notes SELECT 1 + g % 10, g, 'note ' || g FROM generate_series(1, 100) g;
CREATE TABLE ctl (stop boolean);
INSERT INTO ctl VALUES (false);
});

# The port of the worker holding a tenant's shards (co-located: one shard group).
sub worker_port
{
	return sql("SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) "
		  . "WHERE p.shardid = get_shard_id_for_distribution_column('ads', $_[0])");
}
my $port7 = worker_port(7);
my ($other) = grep { worker_port($_) != $port7 } 1 .. 10;
ok(defined $other, "tenant $other is on the other worker than tenant 7");

# Every shard's rows, read on the worker that holds the shard (run_command_on_shards), as one
# digest per shard: of tenant 7's rows, or of every other tenant's.
sub shards
{
	my ($table, $where) = @_;
	return sql("SELECT string_agg(shardid || ':' || result, ' ' ORDER BY shardid) FROM run_command_on_shards('$table', "
		  . "\$\$SELECT count(*) || '/' || coalesce(md5(string_agg(t::text, ',' ORDER BY t)), '') FROM %s t WHERE $where\$\$)");
}
sub digests
{
	my ($where) = @_;
	return join ' | ', shards('ads', $where), shards('clicks', $where);
}
my $tenant7 = digests('tenant_id = 7');
# The same rows through the coordinator, whatever shards hold them.
my $whole = q{SELECT md5(string_agg(t, ',' ORDER BY t)) FROM (SELECT a::text AS t FROM ads a WHERE tenant_id = 7
  UNION ALL SELECT c::text FROM clicks c WHERE tenant_id = 7) s};
my $whole7 = sql($whole);
my $others = digests('tenant_id <> 7');

is(sql("SELECT string_agg(table_name || ' ' || rows_found_by, ', ' ORDER BY table_name::text) FROM tenant_backup.backup_tables()"),
	'ads tenant column, clicks tenant column, notes tenant column, plans shared',
	'backup_tables(): the distributed tables hold tenant rows, the reference table is shared');
my $bid = sql("SELECT tenant_backup.backup_create('7')");
is(sql("SELECT row_count FROM tenant_backup.backups WHERE id = $bid"), '25060', 'tenant 7 backed up through Citus (50 ads, 25000 clicks, 10 notes)');

# Tenant 7 changes on its worker; the shared reference data changes too, and must stay changed.
sub damage
{
	sql(q{
DELETE FROM clicks WHERE tenant_id = 7 AND id % 3 = 0;
UPDATE clicks SET at = '2026-02-01' WHERE tenant_id = 7 AND id % 5 = 0;
DELETE FROM clicks WHERE tenant_id = 7 AND ad_id = 10;
DELETE FROM ads WHERE tenant_id = 7 AND id = 10;
UPDATE ads SET title = 'changed' WHERE tenant_id = 7;
INSERT INTO ads VALUES (7, 99, 'new', 2);
INSERT INTO clicks VALUES (7, 99999, 99, now());
DELETE FROM notes WHERE tenant_id = 7 AND id % 2 = 0;
});
}
damage();
sql("UPDATE plans SET name = name || ' (2027)'");
my $plans = sql("SELECT string_agg(id || name || tenant_id, ',' ORDER BY id) FROM plans");
isnt(digests('tenant_id = 7'), $tenant7, "tenant 7's shards changed");

# The restore, with Citus logging every command it sends to the workers.
my ($rc, $out, $err) = $coordinator->psql('postgres',
	"SET citus.log_remote_commands = on; SELECT string_agg(table_name || ' ' || rows_restored, ', ' ORDER BY table_name) FROM tenant_backup.backup_restore($bid)");
is($rc, 0, 'the restore succeeds') or diag($err);
is($out, 'public.ads 50, public.clicks 25000, public.notes 10', 'every table restored, its rows counted');
is(digests('tenant_id = 7'), $tenant7, "tenant 7's rows are back, shard by shard, exactly as backed up");
is(digests('tenant_id <> 7'), $others, 'every other tenant is untouched, shard by shard');
is(sql("SELECT string_agg(id || name || tenant_id, ',' ORDER BY id) FROM plans"), $plans,
	'the reference table is neither deleted nor loaded (its later changes stay)');
is(sql("SELECT pg_relation_size('ads') + pg_relation_size('clicks')"), '0',
	"nothing was loaded into the coordinator's shell tables");
is(sql('SELECT count(*) FROM notes WHERE tenant_id = 7'), '10', "the coordinator's local table is restored too");
my %ports = map { $_ => 1 } ($err =~ /on server [^@\s]+@[^:\s]+:(\d+)/g);
ok(%ports, 'Citus logged the commands sent to the workers');
is(join(',', sort keys %ports), $port7, "the restore's deletes, loads and foreign-key checks went to tenant 7's worker only");
my @deletes = $err =~ /issuing (DELETE FROM (?:ONLY )?public\.(?:ads|clicks)_\d+[^\n]*)/g;
is(scalar(@deletes), 2, 'one DELETE per distributed table, on its shard');
is(scalar(grep { !/tenant_id OPERATOR\(pg_catalog\.=\) 7\)/ } @deletes), 0, 'each by the tenant column')
  or diag(join "\n", @deletes);
like($err, qr/issuing COPY public\.ads_\d+ .*FROM STDIN/, "the rows are loaded with Citus's COPY into the shard");
my @copies = $err =~ /issuing (COPY public\.clicks_\d+ )/g;
is(scalar(@copies), 3, "clicks' 25000 rows in three batches of at most 10000 (bounded staging)");
my @checks = $err =~ /issuing (SELECT [^\n]*)/g;
cmp_ok(scalar(@checks), '>=', 2, 'the foreign-key checks run on the shards');
is(scalar(grep { !/FROM ONLY public\.(ads|clicks)_\d+ ch(_1)? WHERE \(+(ch(_1)?\.)?tenant_id OPERATOR\(pg_catalog\.=\) (\$1|7)\)/ } @checks), 0,
	"every check, and the sequence's maximum, reads the tenant's rows of its shard only, never a whole table")
  or diag(join "\n", @checks);
like($err, qr/issuing SELECT max\(n\) AS v FROM ONLY public\.clicks_\d+ ch WHERE \(tenant_id OPERATOR\(pg_catalog\.=\) 7\)/,
	"the sequence of clicks.n is moved past the tenant's maximum, read on its shard");
like($err, qr/issuing PREPARE TRANSACTION .*issuing COMMIT PREPARED/s, 'the worker commits with two-phase commit');

# A restore while another session writes another tenant (on the other worker) and the same one's
# neighbours: both complete, and the writer's rows are all there.
damage();
my $before = sql("SELECT count(*) FROM ads WHERE tenant_id = $other");
my $writer = $coordinator->background_psql('postgres');
$writer->query_until(
	qr/started/, qq{
\\echo started
DO \$\$
BEGIN
    FOR i IN 1000 .. 100000 LOOP
        EXIT WHEN (SELECT stop FROM ctl);
        INSERT INTO ads VALUES ($other, i, 'written during the restore', 1);
        INSERT INTO clicks VALUES ($other, i, i, now());
        COMMIT;
        PERFORM pg_sleep(0.005);
    END LOOP;
END
\$\$;
});
sleep 1;
is(sql("SELECT string_agg(table_name || ' ' || rows_restored, ', ' ORDER BY table_name) FROM tenant_backup.backup_restore($bid)"),
	'public.ads 50, public.clicks 25000, public.notes 10', 'a restore while another tenant is written');
sql('UPDATE ctl SET stop = true');
$writer->query_safe('SELECT 1');
$writer->quit;
my $written = sql("SELECT count(*) FROM ads WHERE tenant_id = $other AND id >= 1000");
cmp_ok($written, '>', 0, "the writer committed rows of tenant $other during the restore");
is(sql("SELECT count(*) FROM ads WHERE tenant_id = $other"), $before + $written, "tenant $other has every row it wrote");
is(digests('tenant_id = 7'), $tenant7, 'tenant 7 is restored exactly');
sql("DELETE FROM clicks WHERE tenant_id = $other AND id >= 1000; DELETE FROM ads WHERE tenant_id = $other AND id >= 1000");
is(digests('tenant_id <> 7'), $others, 'and the other tenants are as they were');

# A restore killed mid-way: its DELETE of ads waits for a lock on the worker, after clicks were
# deleted there; the restoring backend is terminated. Nothing is half restored, nothing prepared.
damage();
my $damaged = digests('tenant_id = 7');
my ($worker7) = grep { $_->port == $port7 } @workers;
my $shard = sql("SELECT 'ads_' || get_shard_id_for_distribution_column('ads', 7)");
my $locker = $worker7->background_psql('postgres');
$locker->query_safe("SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE $shard IN SHARE MODE");
my $restore = $coordinator->background_psql('postgres', on_error_stop => 0);
$restore->query_until(qr/started/, "\\echo started\nSELECT pg_backend_pid() AS restorer \\gset\nSELECT * FROM tenant_backup.backup_restore($bid);\n");
$worker7->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = '$shard'::regclass")
  or die 'the restore never reached the locked shard';
is(sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%backup_restore($bid)%' AND pid <> pg_backend_pid()"),
	't', 'the restore is terminated while it waits on the worker');
$locker->query_safe('ROLLBACK');
$locker->quit;
eval { $restore->quit };
$coordinator->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%backup_restore($bid)%' AND pid <> pg_backend_pid()");
is(digests('tenant_id = 7'), $damaged, "tenant 7 is as it was before the killed restore, on its worker");
is(digests('tenant_id <> 7'), $others, 'other tenants are untouched');
is(join(',', map { $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') } @workers), '0,0',
	'no transaction is left prepared on the workers');
is(sql("SELECT string_agg(table_name || ' ' || rows_restored, ', ' ORDER BY table_name) FROM tenant_backup.backup_restore($bid)"),
	'public.ads 50, public.clicks 25000, public.notes 10', 'the restore runs again');
is(digests('tenant_id = 7'), $tenant7, 'and restores tenant 7 exactly');

# A restore whose foreign-key check fails after every row was loaded leaves the tenant as it was:
# the whole restore, on the worker too, is one transaction.
damage();
sql('ALTER TABLE ads DROP CONSTRAINT ads_plan_id_fkey');
sql('DELETE FROM plans WHERE id = 2');
sql('ALTER TABLE ads ADD CONSTRAINT ads_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES plans (id) NOT VALID');
$damaged = digests('tenant_id = 7');
($rc, $out, $err) = $coordinator->psql('postgres', "SELECT * FROM tenant_backup.backup_restore($bid)");
like($err, qr/foreign key constraint "ads_plan_id_fkey/,
	'a restored row referencing a missing reference row is refused');
is(digests('tenant_id = 7'), $damaged, 'and nothing of the tenant changed on its worker');

# A worker stopped during a restore: a clear error, and nothing lost once it is back.
sql('ALTER TABLE ads DROP CONSTRAINT ads_plan_id_fkey');
sql("INSERT INTO plans VALUES (2, 'pro', 7)");
sql('ALTER TABLE ads ADD CONSTRAINT ads_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES plans (id)');
$damaged = digests('tenant_id = 7');
$worker7->stop('fast');
($rc, $out, $err) = $coordinator->psql('postgres', "SELECT * FROM tenant_backup.backup_restore($bid)");
isnt($rc, 0, "a restore while tenant 7's worker is down fails");
like($err, qr/connection to the remote node .* failed/, 'with a clear error');
$worker7->start;
is(digests('tenant_id = 7'), $damaged, 'and once the worker is back, nothing of the tenant changed');

# A tenant isolated to its own shard (isolate_tenant_to_new_shard) restores into that shard.
sql("SELECT isolate_tenant_to_new_shard('ads', 7, 'CASCADE', shard_transfer_mode => 'block_writes')");
sql("DELETE FROM clicks WHERE tenant_id = 7 AND id % 2 = 0; UPDATE ads SET title = 'isolated' WHERE tenant_id = 7");
is(sql("SELECT string_agg(table_name || ' ' || rows_restored, ', ' ORDER BY table_name) FROM tenant_backup.backup_restore($bid)"),
	'public.ads 50, public.clicks 25000, public.notes 10', 'an isolated tenant restores');
is(sql($whole), $whole7, 'exactly');
is(sql(q{SELECT count(*) FROM run_command_on_shards('ads', $$SELECT count(*) FROM %s WHERE tenant_id = 7$$) WHERE result <> '0'}),
	'1', "tenant 7's ads are in one shard, its own");
is(sql(q{SELECT result FROM run_command_on_shards('ads', $$SELECT count(*) || '/' || count(*) FILTER (WHERE tenant_id = 7) FROM %s$$)
  WHERE shardid = get_shard_id_for_distribution_column('ads', 7)}), '50/50', 'which holds no other tenant');

# Tables owned by an application role: a superuser's restore writes them as their owner
# (AsTableOwner), so Citus's connections to the workers are that role's, which must log in.
sql('CREATE ROLE app; GRANT USAGE ON SCHEMA public TO app');
sql("ALTER TABLE $_ OWNER TO app") for qw(plans ads clicks notes);
sql("DELETE FROM clicks WHERE tenant_id = 7 AND id % 3 = 0; UPDATE ads SET title = 'owned' WHERE tenant_id = 7");
my $owned = sql($whole);
($rc, $out, $err) = $coordinator->psql('postgres',
	"SET tenant_backup.table_owners = 'app'; SELECT * FROM tenant_backup.backup_restore($bid)");
like($err, qr/connection to the remote node app@.* role "app" is not permitted to log in/,
	'an owner without LOGIN cannot reach the workers: a clear error');
is(sql($whole), $owned, 'and nothing changed');
sql('ALTER ROLE app LOGIN');
is(sql("SET tenant_backup.table_owners = 'app'; SELECT string_agg(table_name || ' ' || rows_restored, ', ' ORDER BY table_name) FROM tenant_backup.backup_restore($bid)"),
	'public.ads 50, public.clicks 25000, public.notes 10', "a superuser's restore of tables owned by another (trusted) role");
is(sql($whole), $whole7, 'restores them exactly');

$_->stop for reverse @nodes;
done_testing();
