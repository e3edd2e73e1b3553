# What the S3 TAP tests share: a throwaway OpenStack Swift with its S3 API (test/s3/swift-server.sh,
# which checks SigV4 signatures) in a temporary directory, skipped with a clear line when
# TB_S3_HARNESS is not set, and the bucket seen through curl's own SigV4 signing, independently of
# our driver.
package SwiftHarness;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(swift_available swift_start swift_stop swift_pause_resume s3_curl s3_request s3_curl_command);

my $harness = $ENV{TB_S3_HARNESS};
my ($swift, $netrc, $running, %s3);

# Whether the harness is there (TB_S3_HARNESS, a copy of test/s3).
sub swift_available { return $harness && -f "$harness/swift-server.sh"; }

# Starts Swift on `port` (once; again after swift_stop, with the same objects) and returns its
# settings from its env.sh: TB_S3_ENDPOINT, TB_S3_PROXY (the fault proxy), TB_S3_BUCKET,
# TB_S3_ACCESS_KEY, TB_S3_SECRET. Skips the whole test without the harness.
sub swift_start
{
	my ($port) = @_;
	plan skip_all => 'TB_S3_HARNESS (a copy of test/s3) is not set' unless swift_available();
	$swift //= PostgreSQL::Test::Utils::tempdir . '/swift';
	system_or_bail('bash', "$harness/swift-server.sh", 'start', $swift, $port);
	$running = 1;
	open(my $envfh, '<', "$swift/env.sh") or die "env.sh: $!";
	while (<$envfh>) { $s3{$1} = $2 if /^export (\w+)=(.*)$/; }
	close $envfh;
	unless ($netrc)
	{
		# a netrc file carries the access key, which holds a colon
		$netrc = PostgreSQL::Test::Utils::tempdir . '/netrc';
		PostgreSQL::Test::Utils::append_to_file($netrc,
			"machine 127.0.0.1 login $s3{TB_S3_ACCESS_KEY} password $s3{TB_S3_SECRET}\n");
		chmod 0600, $netrc;
	}
	return {%s3};
}

sub swift_stop
{
	return unless $running;
	system('bash', "$harness/swift-server.sh", 'stop', $swift);
	$running = 0;
}
END { swift_stop(); }

# The endpoint down ('pause') or up again ('resume'), the stored objects kept.
sub swift_pause_resume
{
	my ($what) = @_;
	system_or_bail('bash', "$harness/swift-server.sh", $what, $swift);
}

# The curl command line that signs its requests with the harness's credentials (SigV4).
sub s3_curl_command
{
	return "curl -s --aws-sigv4 aws:amz:us-east-1:s3 --netrc-file $netrc -H x-amz-content-sha256:UNSIGNED-PAYLOAD";
}

# curl `args` on the bucket's URL followed by `suffix` ("?prefix=..." or "/object"); its output.
# curl 7.88 signs a query as given: it must already be canonical (sorted, "uploads=").
sub s3_request
{
	my ($args, $suffix) = @_;
	my $curl = s3_curl_command();
	return `$curl $args '$s3{TB_S3_ENDPOINT}/$s3{TB_S3_BUCKET}$suffix'`;
}

# curl `args` on one object of the bucket.
sub s3_curl
{
	my ($args, $object) = @_;
	return s3_request($args, "/$object");
}

1;
