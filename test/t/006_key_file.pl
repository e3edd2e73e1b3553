# Master keys from a key file: where the file may be and who may read it, encrypted backups that
# survive a server restart, and rotation with the old key kept on the file's second line.
use strict;
use warnings FATAL => 'all';

use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('key_file');
$node->init;
$node->start;

my $key_old = '1111111111111111111111111111111111111111111111111111111111111111';
my $key_new = '2222222222222222222222222222222222222222222222222222222222222222';
my $keys_dir = PostgreSQL::Test::Utils::tempdir();
my $key_file = "$keys_dir/master.key";

sub write_key_file
{
	my ($path, $mode, @keys) = @_;
	open my $fh, '>', $path or die "cannot write $path: $!";
	print $fh join("\n", @keys), "\n";
	close $fh;
	chmod $mode, $path or die "cannot chmod $path: $!";
}

# Sets the key file for the whole server and reloads.
sub use_key_file
{
	my ($path) = @_;
	# LOAD first: ALTER SYSTEM only accepts the extension's settings once the library defines them.
	$node->safe_psql('postgres',
		"LOAD 'tenant_backup'; ALTER SYSTEM SET tenant_backup.encryption_key_file = '$path'");
	$node->reload;
}

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION tenant_backup;
CREATE TABLE notes (tenant_id int NOT NULL, id int NOT NULL, body text NOT NULL);
CREATE INDEX ON notes (tenant_id);
INSERT INTO notes SELECT 1 + g % 2, g, 'confidential ' || g FROM generate_series(1, 1000) g;
});

# A file other users can read is refused, and nothing is backed up.
write_key_file($key_file, 0644, $key_old);
use_key_file($key_file);
my ($rc, $out, $err) = $node->psql('postgres', "SELECT tenant_backup.backup_create('1')");
isnt($rc, 0, 'a group/world-readable key file is refused');
like($err, qr/is accessible by other users; it must be mode 0600 or 0400/, 'the error says why');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tenant_backup.backups'), '0', 'no backup was recorded');

# A key file inside the data directory is refused: keys must not travel with the data.
my $inside = $node->data_dir . '/master.key';
write_key_file($inside, 0600, $key_old);
use_key_file($inside);
($rc, $out, $err) = $node->psql('postgres', "SELECT tenant_backup.backup_create('1')");
isnt($rc, 0, 'a key file inside the data directory is refused');
like($err, qr/is inside the data directory/, 'the error says why');
unlink $inside;

# A missing file and a relative path are clear errors too.
use_key_file("$keys_dir/nope.key");
($rc, $out, $err) = $node->psql('postgres', "SELECT tenant_backup.backup_create('1')");
like($err, qr/could not open encryption key file .*nope\.key/, 'a missing key file is a clear error');

# A proper key file: the backup is encrypted and no plaintext reaches the disk.
chmod 0600, $key_file;
use_key_file($key_file);
my $bid = $node->safe_psql('postgres', "SELECT tenant_backup.backup_create('1')");
is($node->safe_psql('postgres', "SELECT encrypted FROM tenant_backup.backups WHERE id = $bid"),
	't', 'the backup is encrypted');
my $archive = $node->safe_psql('postgres', "SELECT location FROM tenant_backup.backups WHERE id = $bid");
my $bytes = slurp_file($archive);
unlike($bytes, qr/confidential/, 'the archive holds no plaintext');

# After a restart (a new backend, keys read again from the file) the backup restores.
$node->restart;
$node->safe_psql('postgres', "UPDATE notes SET body = 'lost' WHERE tenant_id = 1");
$node->safe_psql('postgres', "SELECT * FROM tenant_backup.backup_restore($bid)");
is($node->safe_psql('postgres', "SELECT count(*) FROM notes WHERE tenant_id = 1 AND body LIKE 'confidential %'"),
	'500', 'an encrypted backup restores after a restart');

# Rotation: new key first, old key second; after re-wrapping, the old key can go.
write_key_file($key_file, 0600, $key_new, $key_old);
$node->reload;
is($node->safe_psql('postgres', 'SELECT tenant_backup.backup_rotate_master_key()'), '1',
	'one tenant key was re-wrapped');
write_key_file($key_file, 0600, $key_new);
$node->reload;
my $verify = $node->safe_psql('postgres', "SELECT ok FROM tenant_backup.backup_verify($bid)");
is($verify, 't', 'the old backup verifies with the new key alone');
is(slurp_file($archive), $bytes, 'the archive was not rewritten by the rotation');

# With only the old key, the re-wrapped tenant key can no longer be opened.
write_key_file($key_file, 0600, $key_old);
$node->reload;
($rc, $out, $err) = $node->psql('postgres', "SELECT * FROM tenant_backup.backup_restore($bid)");
like($err, qr/wrapped by master key [0-9a-f]{16}, which is not configured/,
	'the old master key alone no longer opens the backup');

$node->stop;
done_testing();
