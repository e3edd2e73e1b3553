# Off-site copies in S3, against a real server: a throwaway OpenStack Swift with its S3 API
# (test/s3/swift-server.sh, which checks SigV4 signatures), started here in a temporary directory.
# Repositories from SQL (and their refusals), backups stored in two repositories, multipart
# uploads, restore from the S3 copy when the local one is gone or damaged, wrong credentials,
# throttling and dropped connections through the fault proxy, the order of layers and unknown
# names, S3 going down in the middle of a multipart upload, cancels and a termination while an
# upload is held (also when the backend takes the interrupt before the helper thread can), deletes,
# retention, repository checks, and S3 outages and a lost bucket repaired by backup_sync().
# scripts/test.sh sets TB_S3_HARNESS to a copy of test/s3.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use SwiftHarness;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $port = $ENV{TB_S3_TAP_PORT} // 18180;
my %s3 = %{ swift_start($port) };
my ($endpoint, $proxy, $bucket, $key, $secret) =
  @s3{qw(TB_S3_ENDPOINT TB_S3_PROXY TB_S3_BUCKET TB_S3_ACCESS_KEY TB_S3_SECRET)};

sub swift_uploads    # how many multipart uploads under a prefix are incomplete
{
	my ($prefix) = @_;
	my $out = s3_request('', "?prefix=$prefix&uploads=");
	return scalar(() = $out =~ /<UploadId>/g);
}

sub swift_head    # the object's size (and, in list context, its number of parts), or undef
{
	my ($object) = @_;
	my $out = s3_curl('-I', $object);
	return undef unless $out =~ m{^HTTP/\S+ 200}m;
	my ($len) = $out =~ /^Content-Length: (\d+)/mi;
	my ($parts) = $out =~ /^ETag: "[0-9a-f]+-(\d+)"/mi;
	return wantarray ? ($len, $parts // 1) : $len;
}

sub swift_put
{
	my ($object, $file) = @_;
	my $code = s3_curl("-o /dev/null -w '%{http_code}' -T $file", $object);
	die "PUT $object: $code" unless $code =~ /^20/;
}

sub swift_delete
{
	my ($object) = @_;
	my $code = s3_curl("-o /dev/null -w '%{http_code}' -X DELETE", $object);
	die "DELETE $object: $code" unless $code =~ /^20/;
}

sub fault    # arms the fault proxy; returns its state line
{
	my ($query) = @_;
	return `curl -s '$proxy/__fault?$query'`;
}

# The server's credentials come from its environment.
$ENV{AWS_ACCESS_KEY_ID} = $key;
$ENV{AWS_SECRET_ACCESS_KEY} = $secret;
my $node = PostgreSQL::Test::Cluster->new('s3');
$node->init;
# (No pre_restore backups, issue 21: a restore here must read, not also store a copy in S3.)
$node->append_conf('postgresql.conf', "tenant_backup.pre_restore_backup = off\n");
$node->start;
delete $ENV{AWS_ACCESS_KEY_ID};
delete $ENV{AWS_SECRET_ACCESS_KEY};

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE items (tenant_id int NOT NULL, id int PRIMARY KEY, name text);
CREATE INDEX ON items (tenant_id);
INSERT INTO items SELECT 1, g, 'item ' || g FROM generate_series(1, 500) g;
INSERT INTO items SELECT 3, g, 'other ' || g FROM generate_series(501, 510) g;
-- a tenant whose uncompressed archive needs three 5 MiB parts
INSERT INTO items SELECT 2, g, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
FROM generate_series(1000001, 1115000) g;
CREATE ROLE app LOGIN;
});

sub psql_err
{
	my ($sql, %opts) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, %opts);
	return $err;
}

# --- Repositories from SQL --------------------------------------------------------------------
my $opts = qq{{"endpoint": "$endpoint", "region": "us-east-1", "path_style": true, "part_size": 5242880}};
$node->safe_psql('postgres',
	qq{SELECT tenant_backup.backup_repository_add('offsite', 's3://$bucket/pg1', '$opts')});
like(psql_err(q{SELECT tenant_backup.backup_repository_add('x', 'http://example.com/b')}),
	qr/invalid repository URL "http:\/\/example.com\/b"/, 'a URL that is neither s3:// nor file:// is refused');
like(psql_err(q{SELECT tenant_backup.backup_repository_add('x', 's3://tb-test/p', '{"colour": "red"}')}),
	qr/unknown S3 option "colour"/, 'an unknown option is refused');
my $err = psql_err(q{SELECT tenant_backup.backup_repository_add('x', 's3://tb-test/p',
                                                                 '{"secret_access_key": "hunter2-xyz"}')});
like($err, qr/option "secret_access_key" looks like a credential/, 'a secret in the options is refused');
unlike($err, qr/hunter2/, '... without repeating it');
like(psql_err(q{SELECT tenant_backup.backup_repository_add('x', 's3://AK:SK@tb-test/p')}),
	qr/must not contain "@"/, 'credentials in the URL are refused');
like(psql_err(q{SELECT tenant_backup.backup_repository_add('x', 's3://tb-test/p')}, extra_params => [ '-U', 'app' ]),
	qr/permission denied: only superusers may add a repository/, 'a non-superuser may not add a repository');
like(psql_err(q{SELECT * FROM tenant_backup.backup_repositories()}, extra_params => [ '-U', 'app' ]),
	qr/permission denied/, 'nor list them');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.backup_audit
                                  WHERE action = 'repository_add' AND outcome = 'denied'}),
	'1', 'the denial is audited');
$node->safe_psql('postgres', q{SELECT tenant_backup.backup_repository_add('scratch', 'file:///nonexistent/x')});
is($node->safe_psql('postgres', q{SELECT string_agg(name || ':' || url, ' ' ORDER BY name)
                                  FROM tenant_backup.backup_repositories() WHERE name <> 'local'}),
	"offsite:s3://$bucket/pg1 scratch:file:///nonexistent/x", 'backup_repositories() lists them');
is($node->safe_psql('postgres', q{SELECT tenant_backup.backup_repository_remove('scratch'),
                                         tenant_backup.backup_repository_remove('scratch')}),
	't|f', 'backup_repository_remove');

# --- A backup in local and offsite --------------------------------------------------------------
my $b1 = $node->safe_psql('postgres',
	q{SET tenant_backup.repositories = 'local, offsite'; SELECT tenant_backup.backup_create('1')});
is( $node->safe_psql(
		'postgres', qq{SELECT string_agg(c.repository || ':' || c.state || ':' || (c.sha256 = b.sha256)
                             || ':' || (c.size_bytes = b.size_bytes), ' ' ORDER BY c.repository)
          FROM tenant_backup.backup_copies c JOIN tenant_backup.backups b ON b.id = c.backup_id
          WHERE c.backup_id = $b1}),
	'local:stored:true:true offsite:stored:true:true',
	'two copies stored, with the backup\'s SHA-256 and size');
my ($object, $size, $location) =
  split /\|/, $node->safe_psql('postgres', "SELECT object_name, size_bytes, location FROM tenant_backup.backups WHERE id = $b1");
is(swift_head("pg1/$object"), $size, 'the object is in the bucket with its size');
# From here on every backup goes to both, as set for the server.
$node->append_conf('postgresql.conf', "tenant_backup.repositories = 'local, offsite'");
$node->reload;

# --- Multipart ----------------------------------------------------------------------------------
my $big = $node->safe_psql('postgres',
	q{SET tenant_backup.compression_level = 0; SELECT tenant_backup.backup_create('2')});
my $big_size = $node->safe_psql('postgres', "SELECT size_bytes FROM tenant_backup.backups WHERE id = $big");
my $big_object = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $big");
cmp_ok($big_size, '>', 10 * 1024 * 1024, 'the large archive needs three 5 MiB parts');
my ($len, $parts) = swift_head("pg1/$big_object");
is($len, $big_size, 'the multipart object has the archive\'s size');
is($parts, 3, '... and was uploaded in three parts');
is($node->safe_psql('postgres', "SELECT state FROM tenant_backup.backup_copies WHERE backup_id = $big AND repository = 'offsite'"),
	'stored', 'its copy is stored');

# --- Restore from S3 when the local copy is gone ------------------------------------------------
unlink $location or die "unlink $location: $!";
$node->safe_psql('postgres', q{DELETE FROM items WHERE tenant_id = 1 AND id > 250});
my ($ret, $out);
($ret, $out, $err) = $node->psql('postgres', "SELECT sum(rows_restored) FROM tenant_backup.backup_restore($b1)");
is($out, '500', 'restored from the S3 copy when the local file is gone');
like($err, qr/archive of backup $b1 is missing.*\n.*read from its copy in repository "offsite"/s,
	'... saying so');
is($node->safe_psql('postgres', q{SELECT count(*) FROM items WHERE tenant_id = 1}), '500', 'the rows are back');

# --- A corrupted local copy ---------------------------------------------------------------------
my $b2 = $node->safe_psql('postgres', q{SELECT tenant_backup.backup_create('1')});
my $loc2 = $node->safe_psql('postgres', "SELECT location FROM tenant_backup.backups WHERE id = $b2");
open(my $fh, '+<', $loc2) or die "open $loc2: $!";
binmode $fh;
seek($fh, 100, 0);
print $fh 'XXXXXXXXXXXXXXXX';
close $fh;
is(-s $loc2, $node->safe_psql('postgres', "SELECT size_bytes FROM tenant_backup.backups WHERE id = $b2"),
	'the damaged local copy keeps its size');
$node->safe_psql('postgres', q{UPDATE items SET name = 'changed' WHERE tenant_id = 1});
($ret, $out, $err) = $node->psql('postgres', "SELECT sum(rows_restored) FROM tenant_backup.backup_restore($b2)");
is($out, '500', 'a corrupted local copy: restored from S3');
like($err, qr/failed its SHA-256 check/, '... after the local copy failed its checksum');
is($node->safe_psql('postgres', q{SELECT count(*) FROM items WHERE tenant_id = 1 AND name = 'changed'}), '0',
	'the rows are as backed up');
is($node->safe_psql('postgres', "SELECT ok FROM tenant_backup.backup_verify($b2)"), 't',
	'backup_verify reads the healthy copy too');
is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_download($b2)"), '504',
	'and so does backup_download');

# Readers recorded what they found; backup_sync() stores those copies again from S3.
is($node->safe_psql('postgres', "SELECT state || ': ' || error FROM tenant_backup.backup_copies WHERE backup_id = $b1 AND repository = 'local'"),
	"missing: archive of backup $b1 is missing: $location; the copy is skipped",
	'the local copy found gone is recorded missing, and why');
like($node->safe_psql('postgres', "SELECT state || ': ' || error FROM tenant_backup.backup_copies WHERE backup_id = $b2 AND repository = 'local'"),
	qr/^missing: archive of backup $b2 failed its SHA-256 check/, 'so is the damaged one');
is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_restore($b2)"), '1',
	'restores now go straight to the S3 copy');
$node->safe_psql('postgres', 'CREATE TABLE sync0 AS SELECT * FROM tenant_backup.backup_sync()');
is($node->safe_psql('postgres', q{SELECT string_agg(backup_id || ':' || action || ':' || ok, ' ' ORDER BY backup_id, action)
                                  FROM sync0 WHERE repository = 'local'}),
	"$b1:store_copy:true $b2:store_copy:true",
	'backup_sync() stores both local copies again from S3, over the damaged file');
is($node->safe_psql('postgres', "SELECT string_agg(state, ' ') FROM tenant_backup.backup_copies WHERE backup_id IN ($b1, $b2) AND repository = 'local'"),
	'stored stored', 'both local copies are stored');
is(-s $location, $size, 'the local file of the first is back, whole');
$node->safe_psql('postgres', q{UPDATE items SET name = 'again' WHERE tenant_id = 1});
($ret, $out, $err) = $node->psql('postgres', "SELECT sum(rows_restored) FROM tenant_backup.backup_restore($b2)");
is($out . ($err =~ /WARNING/ ? ' with warnings' : ''), '500', 'and restores read the local copy again, without a warning');

# --- Credentials: a wrong secret, and a credentials file ---------------------------------------
my $wrong = "$tmp/wrong.credentials";
my $right = "$tmp/right.credentials";
PostgreSQL::Test::Utils::append_to_file($wrong, "access_key_id = $key\nsecret_access_key = wrong-secret-Zq81\n");
PostgreSQL::Test::Utils::append_to_file($right, "access_key_id = $key\nsecret_access_key = $secret\n");
chmod 0600, $wrong, $right;
$node->safe_psql('postgres', qq{
SELECT tenant_backup.backup_repository_add('badcreds', 's3://$bucket/pg3',
    '{"endpoint": "$endpoint", "path_style": true, "credentials_file": "$wrong"}');
SELECT tenant_backup.backup_repository_add('viafile', 's3://$bucket/pg4',
    '{"endpoint": "$endpoint", "path_style": true, "credentials_file": "$right"}');
});
($ret, $out, $err) = $node->psql('postgres',
	q{SET tenant_backup.repositories = 'local, badcreds, viafile'; SELECT tenant_backup.backup_create('1')});
is($ret, 0, 'a backup whose off-site copy is refused still completes');
my $b3 = $out;
like($err, qr/backup $b3 has no copy in repository "badcreds": .*403/, 'a WARNING says why, with the HTTP status');
my $copy_error = $node->safe_psql('postgres',
	"SELECT state || ': ' || error FROM tenant_backup.backup_copies WHERE backup_id = $b3 AND repository = 'badcreds'");
like($copy_error, qr/^missing: .*403.*SignatureDoesNotMatch/s, 'the catalog says the copy is missing and why');
is($node->safe_psql('postgres',
		"SELECT string_agg(repository || ':' || state, ' ' ORDER BY repository) FROM tenant_backup.backup_copies WHERE backup_id = $b3"),
	'badcreds:missing local:stored viafile:stored', 'the local copy and the one signed from a credentials file are stored');
unlike($err . $copy_error, qr/wrong-secret|$secret/, 'no secret in the warning or the catalog');
unlike(slurp_file($node->logfile), qr/wrong-secret/, 'nor in the server log');
chmod 0644, $right;
like(psql_err(q{SET tenant_backup.repositories = 'viafile'; SELECT tenant_backup.backup_create('1')}),
	qr/cannot open repository "viafile".*only its owner may access/, 'a credentials file others may read is refused');
chmod 0600, $right;

# --- Layers: an unknown name is one missing copy, not a failed backup -------------------------
($ret, $out, $err) = $node->psql('postgres',
	q{SET tenant_backup.repositories = 'local, nosuch'; SELECT tenant_backup.backup_create('1')});
is($ret, 0, 'a backup whose layers name an unknown repository completes');
is($node->safe_psql('postgres', "SELECT string_agg(repository || ':' || state || ':' || coalesce(error, ''), ' ' ORDER BY repository)
                                 FROM tenant_backup.backup_copies WHERE backup_id = $out"),
	'local:stored: nosuch:missing:repository "nosuch" does not exist', '... and records that copy missing, and why');
($ret, $out, $err) = $node->psql('postgres',
	q{SET tenant_backup.repositories = 'nosuch'; SELECT tenant_backup.backup_create('1')});
like($err, qr/ERROR:  repository "nosuch" does not exist/, 'with no usable repository at all, the backup fails');

# --- Faults: throttling and dropped connections, retried ---------------------------------------
$node->safe_psql('postgres', qq{
SELECT tenant_backup.backup_repository_add('flaky', 's3://$bucket/pg5',
    '{"endpoint": "$proxy", "path_style": true, "max_retries": 5, "retry_base_delay_ms": 50, "part_size": 5242880}');
});
fault('clear=1');
fault('slowdown=3');
my $b4 = $node->safe_psql('postgres',
	q{SET tenant_backup.repositories = 'local, flaky'; SELECT tenant_backup.backup_create('1')});
like(fault(''), qr/slowdowns_sent=3/, 'three 503 SlowDown answers were sent');
is($node->safe_psql('postgres', "SELECT state FROM tenant_backup.backup_copies WHERE backup_id = $b4 AND repository = 'flaky'"),
	'stored', '... and the retries stored the copy');
fault('clear=1');
fault('reset=2&reset_after=1000000');
my $b5 = $node->safe_psql('postgres',
	q{SET tenant_backup.repositories = 'local, flaky'; SET tenant_backup.compression_level = 0;
      SELECT tenant_backup.backup_create('2')});
like(fault(''), qr/resets_done=2/, 'two uploads were cut by a connection reset');
is($node->safe_psql('postgres', "SELECT state FROM tenant_backup.backup_copies WHERE backup_id = $b5 AND repository = 'flaky'"),
	'stored', '... and the retries stored the copy');
my $b5_object = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $b5");
is(swift_head("pg5/$b5_object"), $node->safe_psql('postgres', "SELECT size_bytes FROM tenant_backup.backups WHERE id = $b5"),
	'with the archive\'s size');
fault('clear=1');

# --- S3 going down in the middle of a multipart upload ------------------------------------------
fault('clear=1');
fault('delay=1000&delay_ms=300');    # every answer held back: the upload takes seconds
my $mid = $node->background_psql('postgres', on_error_stop => 0);
$mid->query_until(
	qr/started/, q{
SET tenant_backup.repositories = 'local, flaky';
SET tenant_backup.compression_level = 0;
\echo started
SELECT tenant_backup.backup_create('2', 'mid-upload');
});
my $deadline = time + 60;
usleep(50_000) while swift_uploads('pg5%2F') == 0 && time < $deadline;
is(swift_uploads('pg5%2F'), 1, 'a multipart upload is under way');
swift_pause_resume('pause');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM tenant_backup.backups WHERE label = 'mid-upload'}),
	'the backup completes without S3');
$mid->quit;
my $mid_id = $node->safe_psql('postgres', q{SELECT id FROM tenant_backup.backups WHERE label = 'mid-upload'});
like($node->safe_psql('postgres', "SELECT string_agg(repository || ':' || state || ':' || coalesce(error, ''), ' ' ORDER BY repository)
                                   FROM tenant_backup.backup_copies WHERE backup_id = $mid_id"),
	qr/^flaky:missing:could not upload .*s3:\/\/$bucket\/pg5\/.*attempts\) local:stored:$/, 'its S3 copy is missing, with the reason');
fault('clear=1');
swift_pause_resume('resume');
is(swift_uploads('pg5%2F'), 1, 'the interrupted upload could not be aborted while S3 was down');
is($node->safe_psql('postgres', q{SELECT string_agg(problem, ' ') FROM tenant_backup.backup_repository_check('flaky')}),
	'incomplete_upload', 'backup_repository_check reports it');
$node->safe_psql('postgres', 'CREATE TABLE sync_mid AS SELECT * FROM tenant_backup.backup_sync()');
is($node->safe_psql('postgres', q{SELECT string_agg(backup_id || ':' || action || ':' || ok, ' ' ORDER BY action)
                                  FROM sync_mid WHERE repository = 'flaky'}),
	"$mid_id:abort_upload:true $mid_id:store_copy:true", 'backup_sync() aborts the upload and stores the copy');
is(swift_uploads('pg5%2F'), 0, 'no incomplete upload is left');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.backup_repository_check('flaky')}), '0',
	'the repository matches the catalog');
my $mid_object = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $mid_id");
is(swift_head("pg5/$mid_object"), $node->safe_psql('postgres', "SELECT size_bytes FROM tenant_backup.backups WHERE id = $mid_id"),
	'the copy is in the bucket with the archive\'s size');

# --- A cancel stops an S3 transfer at once -----------------------------------------------------
fault('clear=1');
fault('delay=100&delay_ms=30000');    # every answer held 30 s: without a cancel, minutes
my $cancelled = $node->background_psql('postgres', on_error_stop => 0);
my $cancelled_pid = $cancelled->query_safe('SELECT pg_backend_pid()');
$cancelled->query_until(
	qr/started/, q{
SET tenant_backup.repositories = 'local, flaky';
\echo started
SELECT tenant_backup.backup_create('1', 'cancelled');
});
sleep 2;    # the upload waits for its held answer
my $cancel_at = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($cancelled_pid)");
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $cancelled_pid AND state = 'active'"),
	'the cancelled backup ends');
cmp_ok(time - $cancel_at, '<', 20, 'the cancel interrupted the held S3 answer (30 s)');
$cancelled->quit;
like($cancelled->{stderr}, qr/canceling statement due to user request/, 'with PostgreSQL\'s own cancel message');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.backups WHERE label = 'cancelled'}), '0',
	'and no catalog row');
fault('clear=1');

# --- A cancel or termination the backend takes first, while the helper thread uploads ----------
# Part uploads run on the backup's helper thread. Here the backend itself takes the interrupt (it
# waits for a lock on the table's TOAST index, which a REINDEX holds, while the helper's upload
# of part 1 is held by the proxy), so PostgreSQL's flags are cleared before the helper could read
# them: only the pipeline's stop token ends that upload, within about a second, not 30 s later.
$node->safe_psql('postgres', qq{
SELECT tenant_backup.backup_repository_add('stalled', 's3://$bucket/pg6',
    '{"endpoint": "$proxy", "path_style": true, "part_size": 5242880}');
CREATE TABLE stall (tenant_id int NOT NULL, id int NOT NULL, pad text)
    WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off);
ALTER TABLE stall ALTER COLUMN pad SET STORAGE EXTERNAL;
CREATE INDEX ON stall (tenant_id);
-- about 9 MiB of rows (part 1 uploading, the helper's queue not yet full), then one out of line
INSERT INTO stall SELECT 9, g, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
FROM generate_series(1, 80000) g;
INSERT INTO stall VALUES (9, 0, repeat('t', 100000));
});
my $toast_index = $node->safe_psql('postgres', q{SELECT i.indexrelid::regclass FROM pg_index i
    JOIN pg_class c ON c.reltoastrelid = i.indrelid WHERE c.oid = 'stall'::regclass});

# Starts a backup of tenant 9 that stops in the lock wait while part 1 is held; returns the
# session and its pid.
sub stalled_backup
{
	my ($label, $reindex) = @_;
	fault('clear=1');
	fault('delay=100&delay_ms=30000&delay_match=partNumber');    # part uploads stall, nothing else
	$reindex->query_safe("BEGIN; REINDEX INDEX $toast_index");
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/started/, qq{
SET tenant_backup.repositories = 'local, stalled';
SET tenant_backup.compression_level = 0;
\\echo started
SELECT tenant_backup.backup_create('9', '$label');
});
	ok($node->poll_query_until('postgres', "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid"),
		"$label: the backend waits for the TOAST index");
	my $deadline = time + 60;
	usleep(50_000) while fault('') !~ /delays_done=[1-9]/ && time < $deadline;
	like(fault(''), qr/delays_done=1 /, "$label: while the helper thread's upload of part 1 is held");
	return ($s, $pid);
}

my $reindex = $node->background_psql('postgres');
my ($stalled, $stalled_pid) = stalled_backup('stalled cancel', $reindex);
my $t0 = Time::HiRes::time();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($stalled_pid)");
usleep(20_000)
  while $node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $stalled_pid AND state = 'active'")
  && Time::HiRes::time() - $t0 < 60;
my $took = Time::HiRes::time() - $t0;
cmp_ok($took, '<', 3, sprintf('the cancel ended the backup in %.1f s, its held upload included', $took));
$stalled->quit;
like($stalled->{stderr}, qr/canceling statement due to user request/, '... with PostgreSQL\'s own cancel message');
$reindex->query_safe('ROLLBACK');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.backups WHERE label = 'stalled cancel'}), '0',
	'... no catalog row');
is(swift_uploads('pg6%2F'), 0, '... and its multipart upload aborted');

($stalled, $stalled_pid) = stalled_backup('stalled termination', $reindex);
$t0 = Time::HiRes::time();
$node->safe_psql('postgres', "SELECT pg_terminate_backend($stalled_pid)");
usleep(20_000)
  while $node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $stalled_pid")
  && Time::HiRes::time() - $t0 < 60;
$took = Time::HiRes::time() - $t0;
cmp_ok($took, '<', 3, sprintf('the termination ended the backend in %.1f s, joining its helper thread', $took));
$stalled->{run}->finish;
$reindex->query_safe('ROLLBACK');
$reindex->quit;
ok($node->log_contains(qr/terminating connection due to administrator command/), '... a clean FATAL');
unlike(slurp_file($node->logfile), qr/was terminated by signal/, '... and no crash');
fault('clear=1');
$node->safe_psql('postgres', q{DROP TABLE stall; SELECT tenant_backup.backup_repository_remove('stalled')});

# --- backup_delete removes every copy -----------------------------------------------------------
$node->safe_psql('postgres', "SELECT tenant_backup.backup_delete($big)");
is(swift_head("pg1/$big_object"), undef, 'backup_delete removed the S3 copy');
ok(!-e $node->data_dir . "/pg_tenant_backup/" . $big_object, '... and the local one');
is($node->safe_psql('postgres', "SELECT count(*) FROM tenant_backup.backup_copies WHERE backup_id = $big"), '0',
	'... and their rows');
# A delete while S3 is down: the S3 object stays, recorded as garbage, and backup_sync() removes it.
my $b4_object = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $b4");
swift_pause_resume('pause');
($ret, $out, $err) = $node->psql('postgres', "SELECT tenant_backup.backup_delete($b4)");
like($err, qr/could not remove a deleted archive or key record: .*pg5/, 'a delete with S3 down warns that the S3 object stays');
swift_pause_resume('resume');
ok(defined swift_head("pg5/$b4_object"), 'the S3 object of the deleted backup is still there');
is($node->safe_psql('postgres', q{SELECT string_agg(problem, ' ') FROM tenant_backup.backup_repository_check('flaky')}),
	'leftover_object', 'backup_repository_check knows it for a leftover');
# (the archive, and its record beside it: docs/FORMAT.md "Repository records")
is($node->safe_psql('postgres', qq{SELECT string_agg(action || ':' || ok, ' ' ORDER BY object_name) FROM tenant_backup.backup_sync() WHERE backup_id = $b4}),
	'remove_leftover:true remove_leftover:true', 'backup_sync() removes it');
is(swift_head("pg5/$b4_object"), undef, '... from the bucket');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.removed_objects}), '0', 'and forgets it');

like(psql_err(q{SELECT tenant_backup.backup_repository_remove('offsite')}), qr/holds \d+ stored copies/,
	'a repository holding copies cannot be removed');

# --- backup_repository_check ----------------------------------------------------------------------
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.backup_repository_check('offsite')}), '0',
	'offsite is consistent with the catalog');
my $prefix = $object =~ s{/[^/]*$}{}r;
PostgreSQL::Test::Utils::append_to_file("$tmp/orphan", 'not an archive');
swift_put("pg1/$prefix/999999-0000000000000000.tbk", "$tmp/orphan");
my ($obj3) = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $b3");
swift_delete("pg4/$obj3");
is($node->safe_psql('postgres', q{SELECT string_agg(problem || ' ' || object_name, ', ' ORDER BY problem)
                                  FROM tenant_backup.backup_repository_check('offsite')}),
	"orphan_object $prefix/999999-0000000000000000.tbk", 'an object without a catalog row is reported');
is($node->safe_psql('postgres', q{SELECT string_agg(problem || ' ' || backup_id, ', ')
                                  FROM tenant_backup.backup_repository_check('viafile')}),
	"missing_object $b3", 'a stored copy whose object was deleted is reported');
$node->safe_psql('postgres', 'CREATE TABLE sync_check AS SELECT * FROM tenant_backup.backup_sync()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync_check WHERE object_name LIKE '%999999-%'}), '0',
	'backup_sync() leaves an object the catalog does not know alone');
ok(defined swift_head("pg1/$prefix/999999-0000000000000000.tbk"), '... it is still there');
is($node->safe_psql('postgres', q{SELECT string_agg(action || ':' || ok, ' ' ORDER BY action) FROM sync_check WHERE repository = 'viafile'}),
	'mark_missing:true store_copy:true', 'and records the deleted copy missing, then stores it again');

# --- A schedule's own repositories: S3 only, so the primary copy is the S3 one ------------------
like(psql_err(q{SELECT tenant_backup.backup_schedule_set(tenant => '3', repositories => 'nope')}),
	qr/repository "nope" does not exist/, 'a schedule naming an unknown repository is refused');
$ENV{AWS_ACCESS_KEY_ID} = $key;
$ENV{AWS_SECRET_ACCESS_KEY} = $secret;
# Periodic repair off until its own test at the end: the manual backup_sync() calls below must see
# what an outage left.
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'tenant_backup'\ntenant_backup.scheduler_naptime = 1\ntenant_backup.sync_interval = 0");
$node->restart;
delete $ENV{AWS_ACCESS_KEY_ID};
delete $ENV{AWS_SECRET_ACCESS_KEY};
my $clock = (int(time() / 86400) + 1) * 86400 + 2 * 3600 - 3 - time();    # 3 s before 02:00 tomorrow
$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $clock");
$node->reload;
$node->safe_psql('postgres',
	q{SELECT tenant_backup.backup_schedule_set(tenant => '3', cron => '0 2 * * *', keep_last => 1, repositories => 'offsite')});
is($node->safe_psql('postgres', q{SELECT repositories FROM tenant_backup.schedules WHERE tenant = '3'}),
	'offsite', 'the schedule keeps its repositories');
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) > 0 FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'}),
	'the scheduled backup ran');
my $auto = $node->safe_psql('postgres', q{SELECT max(id) FROM tenant_backup.backups WHERE kind = 'auto'});
is($node->safe_psql('postgres', "SELECT repository FROM tenant_backup.backups WHERE id = $auto") . ' '
	  . $node->safe_psql('postgres',
		"SELECT string_agg(repository || ':' || state, ' ') FROM tenant_backup.backup_copies WHERE backup_id = $auto"),
	'offsite offsite:stored', 'it went to the schedule\'s repository only');
my $auto_object = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $auto");
is(swift_head("pg1/$auto_object"), $node->safe_psql('postgres', "SELECT size_bytes FROM tenant_backup.backups WHERE id = $auto"),
	'published in the bucket');
is($node->safe_psql('postgres', "SELECT sum(rows_restored) FROM tenant_backup.backup_restore($auto)"), '10',
	'restored from its only copy, in S3');

# The next night, in local and S3: retention (keep_last 1) removes the first one's S3 copy.
$node->safe_psql('postgres',
	q{SELECT tenant_backup.backup_schedule_set(tenant => '3', cron => '0 2 * * *', keep_last => 1, repositories => 'local,offsite')});
$clock += 86400;
$node->append_conf('postgresql.conf', "tenant_backup.scheduler_clock_offset = $clock");
$node->reload;
ok( $node->poll_query_until(
		'postgres', qq{SELECT count(*) > 0 FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed' AND id > $auto}),
	'the next scheduled backup ran');
my $auto2 = $node->safe_psql('postgres', q{SELECT max(id) FROM tenant_backup.backups WHERE kind = 'auto'});
is($node->safe_psql('postgres',
		"SELECT string_agg(repository || ':' || state, ' ' ORDER BY repository) FROM tenant_backup.backup_copies WHERE backup_id = $auto2"),
	'local:stored offsite:stored', 'it is stored in both layers');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM tenant_backup.backups WHERE id = $auto"),
	'retention deleted the first one');
# (The job removes the S3 object in its commit callback, after the row's deletion is visible:
# under load the HEAD can come first, so it waits, at most 30 s, for the object to go.)
my $gone_by = time + 30;
usleep(50_000) while defined swift_head("pg1/$auto_object") && time < $gone_by;
is(swift_head("pg1/$auto_object"), undef, '... and its S3 object');
$node->safe_psql('postgres', q{SELECT tenant_backup.backup_schedule_remove('3')});

# --- S3 down during a backup, repaired by backup_sync() -----------------------------------------
my $offsite_stored = $node->safe_psql('postgres',
	q{SELECT count(*) FROM tenant_backup.backup_copies WHERE repository = 'offsite' AND state = 'stored'});
swift_stop();
($ret, $out, $err) = $node->psql('postgres',
	q{SET tenant_backup.repositories = 'offsite, local'; SELECT tenant_backup.backup_create('3')});
is($ret, 0, 'with S3 down, a backup whose first layer is S3 completes');
my $b6 = $out;
is($node->safe_psql('postgres', "SELECT repository FROM tenant_backup.backups WHERE id = $b6"), 'local',
	'its primary copy is the local one');
like($node->safe_psql('postgres',
		"SELECT state || ': ' || error FROM tenant_backup.backup_copies WHERE backup_id = $b6 AND repository = 'offsite'"),
	qr/^missing: .*(connect|Connection|refused)/i, 'its off-site copy is missing, and the catalog says why');
is($node->safe_psql('postgres', "SELECT state FROM tenant_backup.backup_copies WHERE backup_id = $b6 AND repository = 'local'"),
	'stored', 'its local copy is stored');
$node->safe_psql('postgres', 'CREATE TABLE sync1 AS SELECT * FROM tenant_backup.backup_sync()');
is($node->safe_psql('postgres', qq{SELECT string_agg(action || ':' || ok, ' ' ORDER BY action) FROM sync1
                                   WHERE repository = 'offsite' AND (backup_id = $b6 OR action = 'check')}),
	'check:false store_copy:false', 'backup_sync() can neither check nor store while S3 is down');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync1 WHERE repository = 'offsite' AND action = 'mark_missing'}),
	'0', '... and marks nothing missing for want of an answer');
swift_start($port);    # a fresh, empty bucket: every object the old one held is lost
$node->safe_psql('postgres', 'CREATE TABLE sync2 AS SELECT * FROM tenant_backup.backup_sync()');
is($node->safe_psql('postgres', qq{SELECT action || ':' || ok FROM sync2 WHERE repository = 'offsite' AND backup_id = $b6}),
	'store_copy:true', 'backup_sync() stores the missing copy once S3 is back');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync2 WHERE repository = 'offsite' AND action = 'mark_missing'}),
	$offsite_stored, 'every copy the lost bucket held is recorded missing');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.backup_copies c WHERE c.repository = 'offsite'
                                  AND c.state <> 'stored' AND EXISTS (SELECT 1 FROM tenant_backup.backup_copies l
                                  WHERE l.backup_id = c.backup_id AND l.repository = 'local' AND l.state = 'stored')}),
	'0', '... and stored again from its local copy');
is($node->safe_psql('postgres', q{SELECT count(*) FROM tenant_backup.backup_repository_check('offsite')}), '0',
	'the new bucket matches the catalog');
my $obj6 = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $b6");
is(swift_head("pg1/$obj6"), $node->safe_psql('postgres', "SELECT size_bytes FROM tenant_backup.backups WHERE id = $b6"),
	'the object is in the bucket');
is($node->safe_psql('postgres',
		"SELECT state || ':' || (sha256 = (SELECT sha256 FROM tenant_backup.backups WHERE id = $b6)) FROM tenant_backup.backup_copies WHERE backup_id = $b6 AND repository = 'offsite'"),
	'stored:true', 'its copy row is stored, with the SHA-256');

# The local copy of that backup gone: restored from the synced copy.
unlink $node->safe_psql('postgres', "SELECT location FROM tenant_backup.backups WHERE id = $b6");
is($node->safe_psql('postgres', "SELECT sum(rows_restored) FROM tenant_backup.backup_restore($b6)"), '10',
	'restored from the copy backup_sync() stored');

# --- A disk that was away: its copies are confirmed when it is back, never removed --------------
my $usb = "$tmp/usb";
$node->safe_psql('postgres', "SELECT tenant_backup.backup_repository_add('usb', 'file://$usb')");
my $b8 = $node->safe_psql('postgres',
	q{SET tenant_backup.repositories = 'usb'; SELECT tenant_backup.backup_create('1', 'on the usb disk')});
my $usb_file = $node->safe_psql('postgres', "SELECT location FROM tenant_backup.backups WHERE id = $b8");
rename($usb, "$usb.away") or die "rename: $!";
is($node->safe_psql('postgres', qq{SELECT string_agg(action || ':' || ok, ' ' ORDER BY action) FROM tenant_backup.backup_sync()
                                   WHERE repository = 'usb'}),
	'mark_missing:true store_copy:false', 'with the disk away, its only copy is recorded missing and cannot be stored');
rename("$usb.away", $usb) or die "rename: $!";
is($node->safe_psql('postgres', qq{SELECT string_agg(action || ':' || ok, ' ' ORDER BY action) FROM tenant_backup.backup_sync()
                                   WHERE repository = 'usb'}),
	'confirm_copy:true', 'back, the copy is found intact and confirmed, not removed');
ok(-f $usb_file, 'the archive is where it was');
is($node->safe_psql('postgres', "SELECT state FROM tenant_backup.backup_copies WHERE backup_id = $b8"), 'stored', 'and stored');
is($node->safe_psql('postgres', "SELECT ok FROM tenant_backup.backup_verify($b8)"), 't', 'and verifies');

# --- The scheduler repairs by itself: tenant_backup.sync_interval ------------------------------
swift_pause_resume('pause');
($ret, $out, $err) = $node->psql('postgres',
	q{SET tenant_backup.repositories = 'local, offsite'; SELECT tenant_backup.backup_create('1', 'during an outage')});
my $b7 = $out;
is($node->safe_psql('postgres', "SELECT state FROM tenant_backup.backup_copies WHERE backup_id = $b7 AND repository = 'offsite'"),
	'missing', 'a backup taken while S3 is down has its S3 copy missing');
swift_pause_resume('resume');
$node->append_conf('postgresql.conf', "tenant_backup.sync_interval = 1");
$node->reload;
ok($node->poll_query_until('postgres', "SELECT state = 'stored' FROM tenant_backup.backup_copies WHERE backup_id = $b7 AND repository = 'offsite'"),
	'the scheduler\'s sync worker stores it once S3 is back, with nobody calling backup_sync()');
my $obj7 = $node->safe_psql('postgres', "SELECT object_name FROM tenant_backup.backups WHERE id = $b7");
is(swift_head("pg1/$obj7"), $node->safe_psql('postgres', "SELECT size_bytes FROM tenant_backup.backups WHERE id = $b7"),
	'the object is in the bucket');
ok($node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM tenant_backup.backup_audit WHERE action = 'sync' AND error LIKE 'periodic: %'}),
	'the repair is audited');
ok($node->log_contains(qr/LOG:  tenant_backup sync: \d+ done, \d+ failed|WARNING:  tenant_backup sync: \d+ done/),
	'and logged');

$node->stop;
swift_stop();
done_testing();
