// Master key sources: key lists (file or command output) and the checks on key files.
#include "core/crypto/master_keys.hpp"

#include "test_support.hpp"

#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace tbtest;
using tb::ErrorKind;

namespace {

const std::string kHexA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kHexB = "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100";

class KeyFileTest : public ::testing::Test {
protected:
	void SetUp() override {
		char tmpl[] = "/tmp/tb_keys_XXXXXX";
		ASSERT_NE(::mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
	std::string write(const std::string &name, const std::string &content, mode_t mode) {
		std::string path = dir_ + "/" + name;
		std::ofstream(path) << content;
		EXPECT_EQ(::chmod(path.c_str(), mode), 0);
		return path;
	}
	std::string dir_;
};

} // namespace

TEST(KeyList, FirstKeyIsCurrentAndOthersFollowInOrder) {
	auto keys = tb::crypto::parse_key_list(kHexA + "\n" + kHexB + "\n", "test");
	ASSERT_EQ(keys.size(), 2u);
	EXPECT_EQ(keys[0], tb::crypto::parse_hex_key(kHexA, "a"));
	EXPECT_EQ(keys[1], tb::crypto::parse_hex_key(kHexB, "b"));
	EXPECT_EQ(keys[1][0], 0xff) << "upper-case hex is accepted";
}

TEST(KeyList, IgnoresBlankLinesCommentsAndCarriageReturns) {
	auto keys = tb::crypto::parse_key_list("# rotated 2026-11-01\n\n  " + kHexA + "\r\n\t\n", "test");
	ASSERT_EQ(keys.size(), 1u);
	EXPECT_EQ(keys[0][31], 0x1f);
}

TEST(KeyList, RefusesEmptyAndMalformedLists) {
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::crypto::parse_key_list("", "test"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::crypto::parse_key_list("# only a comment\n", "t"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::crypto::parse_key_list(kHexA.substr(2) + "\n", "t"); }));
	try {
		tb::crypto::parse_key_list(kHexA + "\nnot a key\n", "the key file");
		FAIL() << "a bad second line was accepted";
	} catch (const tb::Error &e) {
		EXPECT_NE(std::string(e.what()).find("the key file (line 2)"), std::string::npos) << e.what();
		EXPECT_EQ(std::string(e.what()).find("not a key"), std::string::npos) << "key material is never echoed";
	}
}

TEST_F(KeyFileTest, ReadsAPrivateFile) {
	std::string path = write("master.key", kHexA + "\n" + kHexB + "\n", 0600);
	auto keys = tb::crypto::read_key_file(path, "/nonexistent-data-dir");
	ASSERT_EQ(keys.size(), 2u);
	EXPECT_EQ(keys[0][1], 0x01);
	EXPECT_EQ(tb::crypto::read_key_file(write("ro.key", kHexA, 0400), "").size(), 1u) << "0400 is fine too";
}

TEST_F(KeyFileTest, RefusesFilesOthersCanRead) {
	for (mode_t mode : {0640, 0604, 0644, 0660}) {
		std::string path = write("open.key", kHexA, mode);
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::crypto::read_key_file(path, ""); }))
		    << "mode " << std::oct << mode;
	}
}

TEST_F(KeyFileTest, RefusesAFileInsideTheDataDirectory) {
	std::string data_dir = dir_ + "/pgdata";
	ASSERT_EQ(::mkdir(data_dir.c_str(), 0700), 0);
	std::string path = write("pgdata/master.key", kHexA, 0600);
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::crypto::read_key_file(path, data_dir); }));
	// Reached through a symbolic link from outside, it is still inside.
	std::string link = dir_ + "/link.key";
	ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::crypto::read_key_file(link, data_dir); }));
	// A sibling directory whose name starts like the data directory is not inside it.
	ASSERT_EQ(::mkdir((dir_ + "/pgdata2").c_str(), 0700), 0);
	std::string sibling = write("pgdata2/master.key", kHexA, 0600);
	EXPECT_EQ(tb::crypto::read_key_file(sibling, data_dir).size(), 1u);
}

TEST_F(KeyFileTest, RefusesRelativeMissingAndNonRegularPaths) {
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::crypto::read_key_file("master.key", ""); }));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { tb::crypto::read_key_file(dir_ + "/missing.key", ""); }));
	ASSERT_EQ(::mkdir((dir_ + "/adir").c_str(), 0700), 0);
	EXPECT_THROW(tb::crypto::read_key_file(dir_ + "/adir", ""), tb::Error);
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput,
	                        [&] { tb::crypto::read_key_file(write("huge.key", std::string(70000, '#'), 0600), ""); }));
}
