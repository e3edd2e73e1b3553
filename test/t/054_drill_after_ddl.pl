# Issue 20: restore drills scheduled by schema changes and on a cadence. An event trigger records
# each ALTER TABLE / DROP TABLE, one row per table (not per tenant); at its next pass the scheduler
# drills each tenant whose newest backup holds a changed table (or one whose name no longer
# resolves): a compatible change drills ok, a NOT NULL column without a default fails the drill
# naming the column (the tenant counts as unprotected, the cause is logged and audited), a change
# to a table no backup holds or to a temporary table drills nothing. Drills also come on their own
# cadence (tenant_backup.drill_interval), reached with the scheduler's test clock.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

# No verification on a cadence here (t/053); no schedule: manual backups are drilled all the same.
my $node = scheduler_node('drill_after_ddl',
	"tenant_backup.unencrypted_backups = 'allow'\ntenant_backup.verify_interval = 0\n");
sql(q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int NOT NULL, v int NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, id));
INSERT INTO items SELECT t, g, g FROM generate_series(1, 2) t, generate_series(1, 500) g;
CREATE TABLE registry (tenant_id text PRIMARY KEY);
INSERT INTO registry VALUES ('1'), ('2');
CREATE TABLE side (id int);
});
my %backup = map { $_ => sql("SELECT tenant_backup.backup_create('$_')") } (1, 2);
$node->reload;
ok(wait_for("SELECT count(*) FROM tenant_backup.check_state WHERE next_drill_at IS NOT NULL AND next_verify_at IS NULL",
		'2'),
	'both tenants have a next drill (and, with verify_interval = 0, no verification)');
my $drilled = "SELECT count(*) FROM tenant_backup.backups WHERE drilled_at IS NOT NULL";
is(sql($drilled), '0', 'nothing drilled yet');

# DDL on a table no backup holds, and on a temporary table: the first is recorded, the tenants are
# checked against it and not drilled.
my $seen = "SELECT count(*) FROM tenant_backup.check_state "
  . "WHERE schema_seen = (SELECT max(generation) FROM tenant_backup.schema_changes)";
sql("ALTER TABLE side ADD COLUMN x int; CREATE TEMP TABLE scratch (a int); ALTER TABLE scratch ADD COLUMN b int;");
is(sql("SELECT string_agg(relid::regclass::text, ',') FROM tenant_backup.schema_changes"),
	'side', 'the change to side is recorded, one row; the temporary table\'s is not');
ok(wait_for($seen, '2'), 'both tenants are checked against it at the next pass');
is(sql($drilled), '0', 'and not drilled: their backups do not hold side');

# A compatible change to a table the backups hold: both are drilled, ok.
sql("ALTER TABLE items ALTER COLUMN v TYPE bigint");
ok(wait_for($drilled, '2'), 'ALTER COLUMN ... TYPE bigint: both tenants\' newest backups are drilled');
is(sql("SELECT string_agg(drill_status, ',') FROM tenant_backup.backups"), 'ok,ok', 'the drills are ok');
is( sql("SELECT string_agg(tenant || ':' || outcome || ':' || error, ' ' ORDER BY tenant) FROM tenant_backup.backup_audit "
		  . "WHERE action = 'drill'"),
	'1:ok:after a schema change 2:ok:after a schema change',
	'audited as drills after a schema change');
is(sql("SELECT count(*) FROM tenant_backup.schema_changes"), '2', 'one row per changed table, not per tenant');

# A NOT NULL column without a default: a restore would fail; the drills say so, naming the column.
my $log_at = -s $node->logfile;
my $first = $backup{1};
sql("BEGIN; ALTER TABLE items ADD COLUMN w int NOT NULL DEFAULT 0; ALTER TABLE items ALTER COLUMN w DROP DEFAULT; COMMIT;");
ok(wait_for("SELECT count(*) FROM tenant_backup.backups WHERE drill_status = 'failed'", '2'),
	'a NOT NULL column without a default: both drills fail');
is( sql("SELECT string_agg(tenant || ':' || last_drill_ok || ':' || unprotected, ' ' ORDER BY tenant) "
		  . "FROM tenant_backup.backup_status"),
	'1:false:true 2:false:true', 'backup_status counts both tenants unprotected');
like(sql("SELECT last_drill_error FROM tenant_backup.backup_status WHERE tenant = '1'"),
	qr/column "w" of table public\.items is NOT NULL without a default/, 'and names the column');
like(slurp_file($node->logfile, $log_at),
	qr/WARNING:  restore drill of backup $first of tenant "1" failed: column "w"/,
	'the failure is logged with the tenant, the backup and the cause');
is(sql("SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'drill' AND outcome = 'failed' "
		  . "AND error LIKE 'after a schema change: column \"w\"%'"),
	'2', 'and audited');

# Fixed: the next change drills ok again.
sql("ALTER TABLE items ALTER COLUMN w SET DEFAULT 0");
ok(wait_for("SELECT count(*) FROM tenant_backup.backups WHERE drill_status = 'ok'", '2'), 'a default again: ok');

# A rename: the backups' table name no longer resolves; the drill finds it by its OID.
sql("ALTER TABLE items RENAME TO goods");
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'drill'", '8'),
	'a renamed table drills both tenants again');
is(sql("SELECT string_agg(drill_status, ',') FROM tenant_backup.backups"), 'ok,ok', 'ok: the table is found again');

# drill_after_ddl = off: schema changes drill nothing.
$node->append_conf('postgresql.conf', "tenant_backup.drill_after_ddl = off\n");
$node->reload;
sleep 2;
sql("ALTER TABLE goods ADD COLUMN z int");
sleep 4;    # several passes of the scheduler (naptime 1 s)
is(sql("SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'drill'"), '8',
	'with tenant_backup.drill_after_ddl = off, a change drills nothing');
$node->append_conf('postgresql.conf', "tenant_backup.drill_after_ddl = on\n");
$node->reload;
ok(wait_for("SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'drill'", '10'),
	'on again: the change made meanwhile is drilled');

# On the cadence: the scheduler's clock past both tenants' next drill.
my $next = sql("SELECT max(extract(epoch FROM next_drill_at))::bigint FROM tenant_backup.check_state");
my $offset = $next + 5 - time();
$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $offset\n");
$node->reload;
ok( wait_for(
		"SELECT count(*) FROM tenant_backup.backup_audit WHERE action = 'drill' AND outcome = 'ok' AND error = 'scheduled'",
		'2'),
	'the drill cadence drills both tenants\' newest backups');
is( sql("SELECT bool_and(next_drill_at > now() + make_interval(secs => $offset)) FROM tenant_backup.check_state"),
	't', 'and their next drills are after the scheduler\'s clock');

$node->stop;
done_testing();
