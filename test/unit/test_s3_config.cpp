#include "core/storage/s3/s3_config.hpp"
#include "core/storage/s3/s3_credentials.hpp"
#include "core/storage/s3/s3_storage.hpp"

#include "test_support.hpp"

#include <cstdio>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace tbtest;
using tb::ErrorKind;

namespace {

TEST(S3Config, UrlGivesBucketAndPrefix) {
	tb::S3Config c = tb::parse_s3_url("s3://my-bucket/backups/prod/");
	EXPECT_EQ(c.bucket, "my-bucket");
	EXPECT_EQ(c.prefix, "backups/prod");
	EXPECT_EQ(tb::parse_s3_url("s3://my-bucket").prefix, "");
	EXPECT_EQ(tb::parse_s3_url("s3://my-bucket/").prefix, "");
}

TEST(S3Config, DefaultsFollowTheRegion) {
	tb::S3Config c = tb::parse_s3_url("s3://b12/x");
	EXPECT_EQ(c.region, "us-east-1");
	EXPECT_EQ(tb::s3_endpoint(c), "https://s3.us-east-1.amazonaws.com");
	tb::set_s3_option(c, "region", "eu-west-3");
	EXPECT_EQ(tb::s3_endpoint(c), "https://s3.eu-west-3.amazonaws.com");
	tb::set_s3_option(c, "endpoint", "http://127.0.0.1:9000/");
	EXPECT_EQ(tb::s3_endpoint(c), "http://127.0.0.1:9000");
	EXPECT_TRUE(c.verify_tls);
	EXPECT_FALSE(c.path_style);
	EXPECT_EQ(c.part_size, 16u << 20);
	EXPECT_EQ(c.max_retries, 4);
}

TEST(S3Config, RejectsBadUrls) {
	for (const char *url : {"http://bucket/x", "s3://", "s3://ab", "s3://bad bucket/x", "s3://b12/../x",
	                        "s3://b12/a//b", "s3://b12/a b", "s3://b12/x?y"})
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::parse_s3_url(url); })) << url;
}

TEST(S3Config, OptionsAreParsedAndChecked) {
	tb::S3Config c = tb::parse_s3_url("s3://b12");
	tb::set_s3_option(c, "path_style", "on");
	tb::set_s3_option(c, "verify_tls", "false");
	tb::set_s3_option(c, "part_size", "5242880");
	tb::set_s3_option(c, "max_retries", "0");
	tb::set_s3_option(c, "storage_class", "STANDARD_IA");
	tb::set_s3_option(c, "list_page_size", "2");
	tb::set_s3_option(c, "io_timeout_ms", "1500");
	EXPECT_TRUE(c.path_style);
	EXPECT_FALSE(c.verify_tls);
	EXPECT_EQ(c.part_size, 5u << 20);
	EXPECT_EQ(c.max_retries, 0);
	EXPECT_EQ(c.storage_class, "STANDARD_IA");
	EXPECT_EQ(c.list_page_size, 2);
	EXPECT_EQ(c.io_timeout_ms, 1500);

	auto bad = [&](const char *name, const char *value) {
		return throws_kind(ErrorKind::InvalidInput, [&] { tb::set_s3_option(c, name, value); });
	};
	EXPECT_TRUE(bad("part_size", "5242879")); // below S3's minimum part
	EXPECT_TRUE(bad("part_size", "-1"));
	EXPECT_TRUE(bad("part_size", "99999999999999999999999"));
	EXPECT_TRUE(bad("path_style", "maybe"));
	EXPECT_TRUE(bad("endpoint", "ftp://host"));
	EXPECT_TRUE(bad("endpoint", "http://user:pw@host"));
	EXPECT_TRUE(bad("endpoint", "http://host/path"));
	EXPECT_TRUE(bad("region", "US East"));
	EXPECT_TRUE(bad("list_page_size", "0"));
	EXPECT_TRUE(bad("list_page_size", "1001"));
	EXPECT_TRUE(bad("no_such_option", "1"));
}

// One part is buffered per upload, so its size is capped far below S3's 5 GiB; the error names
// both limits.
TEST(S3Config, PartSizeIsCappedAndTheErrorNamesTheLimits) {
	tb::S3Config c = tb::parse_s3_url("s3://b12");
	tb::set_s3_option(c, "part_size", "536870912"); // 512 MiB: the largest allowed
	EXPECT_EQ(c.part_size, 512u << 20);
	for (const char *value : {"536870913", "5368709120", "5242879"}) {
		try {
			tb::set_s3_option(c, "part_size", value);
			ADD_FAILURE() << value << " accepted";
		} catch (const tb::Error &e) {
			EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
			std::string msg = e.what();
			EXPECT_NE(msg.find("5 MiB (5242880 bytes)"), std::string::npos) << msg;
			EXPECT_NE(msg.find("512 MiB (536870912 bytes)"), std::string::npos) << msg;
		}
	}
	EXPECT_EQ(c.part_size, 512u << 20); // a refused value changes nothing
	c.credentials = {"AKID", "SECRET", ""};
	c.part_size = uint64_t(1) << 30; // set directly: check_s3_config refuses it too
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::check_s3_config(c); }));
	c.part_size = tb::kS3MaxPartSize;
	tb::check_s3_config(c);
}

TEST(S3Config, CheckWantsCredentials) {
	tb::S3Config c = tb::parse_s3_url("s3://b12");
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::check_s3_config(c); }));
	c.credentials = {"AKID", "SECRET", ""};
	tb::check_s3_config(c);
	c.io_timeout_ms = 10;
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::check_s3_config(c); }));
}

TEST(S3Config, DescribeNamesTheObjectWithoutCredentials) {
	tb::S3Config c = tb::parse_s3_url("s3://b12/pre/fix");
	c.credentials = {"AKIDVISIBLE", "TOPSECRET", ""};
	tb::S3Storage storage(c);
	EXPECT_EQ(storage.describe("t/1.tbk"), "s3://b12/pre/fix/t/1.tbk");
	EXPECT_TRUE(storage.list_temporaries().empty());
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { storage.open_write("../x", "tag"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { storage.open_write("x", "a/b"); }));
}

TEST(S3Credentials, PlainLines) {
	auto c = tb::parse_s3_credentials("# comment\naccess_key_id = test:tester\n\nsecret_access_key=abc=def \n",
	                                  "default", "f");
	EXPECT_EQ(c.access_key_id, "test:tester");
	EXPECT_EQ(c.secret_access_key, "abc=def"); // only the first '=' separates
	EXPECT_EQ(c.session_token, "");
}

TEST(S3Credentials, AwsIniProfiles) {
	const std::string ini = "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n"
	                        "[profile backup]\naws_access_key_id = A2\naws_secret_access_key = S2\n"
	                        "aws_session_token = T2\nregion = eu-west-1\n";
	auto d = tb::parse_s3_credentials(ini, "default", "f");
	EXPECT_EQ(d.access_key_id, "A1");
	EXPECT_EQ(d.secret_access_key, "S1");
	auto b = tb::parse_s3_credentials(ini, "backup", "f");
	EXPECT_EQ(b.access_key_id, "A2");
	EXPECT_EQ(b.secret_access_key, "S2");
	EXPECT_EQ(b.session_token, "T2");
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::parse_s3_credentials(ini, "other", "f"); }));
}

TEST(S3Credentials, MalformedLinesDoNotEchoSecrets) {
	try {
		tb::parse_s3_credentials("access_key_id = A\nTOPSECRETVALUE\n", "default", "f");
		FAIL() << "no error";
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
		EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
		EXPECT_EQ(std::string(e.what()).find("TOPSECRET"), std::string::npos) << e.what();
	}
	EXPECT_TRUE(
	    throws_kind(ErrorKind::InvalidInput, [] { tb::parse_s3_credentials("access_key_id = A\n", "default", "f"); }));
}

class S3CredentialsFile : public ::testing::Test {
protected:
	void SetUp() override {
		char tmpl[] = "/tmp/tb_unit_s3cred_XXXXXX";
		int fd = ::mkstemp(tmpl);
		ASSERT_GE(fd, 0);
		::close(fd);
		path_ = tmpl;
		std::ofstream(path_) << "aws_access_key_id = AK\naws_secret_access_key = SK\n";
	}
	void TearDown() override { std::remove(path_.c_str()); }
	std::string path_;
};

TEST_F(S3CredentialsFile, OwnerOnlyFileIsRead) {
	ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
	auto c = tb::load_s3_credentials_file(path_);
	EXPECT_EQ(c.access_key_id, "AK");
	EXPECT_EQ(c.secret_access_key, "SK");
}

TEST_F(S3CredentialsFile, GroupOrOtherAccessIsRefused) {
	for (mode_t mode : {0640, 0604, 0660, 0610}) {
		ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
		try {
			tb::load_s3_credentials_file(path_);
			ADD_FAILURE() << "mode " << std::oct << mode << " accepted";
		} catch (const tb::Error &e) {
			EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
			EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
		}
	}
}

TEST_F(S3CredentialsFile, MissingFileIsNotFound) {
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { tb::load_s3_credentials_file(path_ + ".missing"); }));
}

TEST_F(S3CredentialsFile, FactoryReadsTheFile) {
	ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
	auto storage = tb::open_s3_storage("s3://b12/p", {{"credentials_file", path_}, {"region", "eu-west-1"}});
	EXPECT_EQ(storage->config().credentials.access_key_id, "AK");
	EXPECT_EQ(storage->config().region, "eu-west-1");
	EXPECT_EQ(storage->describe("n"), "s3://b12/p/n");
}

} // namespace
