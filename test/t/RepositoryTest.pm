# What the TAP tests of self-describing repositories (038, 052, 058) share: a node with a local
# repository and a master key file, the accounts/notes schema and its data, and a tenant's rows as
# one comparable line.
package RepositoryTest;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(write_key_file repository_node accounts_schema accounts_data sq err fingerprint files_under
  count_files rewrite);

my $node;

# The master key file: one 64-hex key per line, the first the current one.
sub write_key_file
{
	my ($file, @keys) = @_;
	open my $kf, '>', $file or die "$file: $!";
	print $kf map { "$_\n" } @keys;
	close $kf;
	chmod 0600, $file;
}

# A started node whose local repository is `repo` and whose master keys are in `key_file`, without
# pre_restore backups (issue 21: the counts these tests check are of the backups they take).
sub repository_node
{
	my ($name, $repo, $key_file) = @_;
	$node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "tenant_backup.repository = '$repo'\n");
	$node->append_conf('postgresql.conf', "tenant_backup.encryption_key_file = '$key_file'\n");
	$node->append_conf('postgresql.conf', "tenant_backup.pre_restore_backup = off\n");
	$node->start;
	return $node;
}

sub accounts_schema
{
	return q{
CREATE EXTENSION tenant_backup;
CREATE TABLE accounts (tenant_id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE notes (tenant_id int NOT NULL REFERENCES accounts, id int PRIMARY KEY, body text NOT NULL);
CREATE INDEX ON notes (tenant_id);
};
}

# `tenants` accounts and `notes` notes spread over them, each note's body padded with up to
# `pad_mod` - 1 copies of `pad`.
sub accounts_data
{
	my ($tenants, $notes, $pad, $pad_mod) = @_;
	return qq{
INSERT INTO accounts SELECT t, 'tenant ' || t FROM generate_series(1, $tenants) t;
INSERT INTO notes SELECT 1 + g % $tenants, g, 'note ' || g || repeat('$pad', g % $pad_mod) FROM generate_series(1, $notes) g;
};
}

sub sq { my ($db, $sql) = @_; return $node->safe_psql($db, $sql); }
sub err { my ($db, $sql) = @_; my ($rc, $out, $e) = $node->psql($db, $sql); return $e; }

# A tenant's account and notes as one line, to compare exactly after a restore ("- 0:" for none).
sub fingerprint
{
	my ($db, $t) = @_;
	return sq($db, "SELECT coalesce((SELECT name FROM accounts WHERE tenant_id = $t), '-') || ' ' || "
		  . "(SELECT count(*) || ':' || coalesce(md5(string_agg(id || '/' || body, ',' ORDER BY id)), '') FROM notes WHERE tenant_id = $t)");
}

# The files under `dir` whose path matches `re`, sorted.
sub files_under
{
	my ($dir, $re) = @_;
	my @out;
	find(sub { push @out, $File::Find::name if -f $_ && $File::Find::name =~ $re }, $dir);
	return sort @out;
}
sub count_files { my @f = files_under(@_); return scalar(@f); }

sub rewrite { my ($f, $text) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $text; close $fh; }

1;
