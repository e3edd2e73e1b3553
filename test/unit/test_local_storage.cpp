#include "core/storage/local/local_storage.hpp"

#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <sys/vfs.h>

using namespace tbtest;
using tb::ErrorKind;
namespace fs = std::filesystem;

namespace {

class LocalStorageTest : public ::testing::Test {
protected:
	void SetUp() override {
		char tmpl[] = "/tmp/tb_unit_storage_XXXXXX";
		ASSERT_NE(::mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override {
		std::error_code ec;
		fs::remove_all(dir_, ec);
	}

	// Every regular file below dir (relative paths), sorted.
	std::vector<std::string> files() const {
		std::vector<std::string> out;
		for (const auto &e : fs::recursive_directory_iterator(dir_))
			if (e.is_regular_file())
				out.push_back(fs::relative(e.path(), dir_).string());
		std::sort(out.begin(), out.end());
		return out;
	}
	std::vector<std::string> temp_files() const {
		std::vector<std::string> out;
		for (const auto &f : files())
			if (f.size() >= 4 && f.compare(f.size() - 4, 4, ".tmp") == 0)
				out.push_back(f);
		return out;
	}

	void store(tb::Storage &s, const std::string &name, const std::string &data, const std::string &tag = "w1") {
		auto w = s.open_write(name, tag);
		EXPECT_EQ(w->name(), name);
		write_in_pieces(*w, data, {65536, 3});
		w->finish();
		w->publish();
	}
	std::string load(tb::Storage &s, const std::string &name, size_t read_size = 65536) {
		auto src = s.open_read(name);
		return read_all(*src, read_size);
	}

	std::string dir_;
};

mode_t mode_of(const std::string &path) {
	struct stat st;
	EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
	return st.st_mode & 07777;
}

} // namespace

TEST_F(LocalStorageTest, PublishedObjectReadsBackTheSameBytes) {
	tb::LocalStorage s(dir_);
	std::string data = random_bytes(3 * 1024 * 1024 + 11, 21);
	EXPECT_FALSE(s.exists("a.tbk"));
	store(s, "a.tbk", data);
	EXPECT_TRUE(s.exists("a.tbk"));
	EXPECT_TRUE(load(s, "a.tbk") == data);
	EXPECT_TRUE(load(s, "a.tbk", 4093) == data);
	EXPECT_EQ(files(), std::vector<std::string>{"a.tbk"});
	EXPECT_TRUE(s.list_temporaries().empty());
	EXPECT_EQ(mode_of(dir_ + "/a.tbk"), 0600u);
}

TEST_F(LocalStorageTest, OpenReadAtAnOffset) {
	tb::LocalStorage s(dir_);
	std::string data = random_bytes(200000, 22);
	store(s, "o/ff.tbk", data);
	for (uint64_t offset :
	     {uint64_t(0), uint64_t(1), uint64_t(4095), uint64_t(4096), uint64_t(123457), uint64_t(data.size() - 1)}) {
		auto src = s.open_read("o/ff.tbk", offset);
		EXPECT_TRUE(read_all(*src, 4093) == data.substr(offset)) << "offset " << offset;
	}
	// At or past the end there is nothing to read, and that is no error.
	for (uint64_t offset : {uint64_t(data.size()), uint64_t(data.size() + 1), uint64_t(1) << 40}) {
		auto src = s.open_read("o/ff.tbk", offset);
		EXPECT_EQ(read_all(*src), "") << "offset " << offset;
	}
	// Two readers at different offsets do not disturb each other.
	auto a = s.open_read("o/ff.tbk", 10), b = s.open_read("o/ff.tbk", 100000);
	uint8_t x[4], y[4];
	ASSERT_TRUE(tb::read_exact(*a, x, 4));
	ASSERT_TRUE(tb::read_exact(*b, y, 4));
	EXPECT_EQ(std::string(reinterpret_cast<char *>(x), 4), data.substr(10, 4));
	EXPECT_EQ(std::string(reinterpret_cast<char *>(y), 4), data.substr(100000, 4));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.open_read("missing.tbk", 5); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.open_read("../x", 5); }));
}

TEST_F(LocalStorageTest, SizeOfObjects) {
	tb::LocalStorage s(dir_);
	store(s, "empty", "");
	store(s, "a/b.tbk", random_bytes(3 * 1024 * 1024 + 7, 23));
	EXPECT_EQ(s.size("empty"), 0u);
	EXPECT_EQ(s.size("a/b.tbk"), 3u * 1024 * 1024 + 7);
	store(s, "a/b.tbk", "shorter", "w2");
	EXPECT_EQ(s.size("a/b.tbk"), 7u) << "the size of what is published now";
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.size("missing.tbk"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.size("no/such/dir.tbk"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.size("a/../b"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.size(""); }));
	// An object being written has no size until it is published.
	auto w = s.open_write("later.tbk", "w1");
	w->write(bytes_of("abc"), 3);
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.size("later.tbk"); }));
	w->finish();
	w->publish();
	EXPECT_EQ(s.size("later.tbk"), 3u);
}

TEST_F(LocalStorageTest, EmptyObject) {
	tb::LocalStorage s(dir_);
	store(s, "empty", "");
	EXPECT_TRUE(s.exists("empty"));
	EXPECT_EQ(load(s, "empty"), "");
}

TEST_F(LocalStorageTest, NothingVisibleBeforePublish) {
	tb::LocalStorage s(dir_);
	auto w = s.open_write("b.tbk", "w1");
	w->write(bytes_of("data"), 4);
	w->finish();
	EXPECT_FALSE(s.exists("b.tbk"));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.open_read("b.tbk"); }));
	w->publish();
	EXPECT_TRUE(s.exists("b.tbk"));
	EXPECT_EQ(load(s, "b.tbk"), "data");
}

TEST_F(LocalStorageTest, UnpublishedWriteLeavesNoFile) {
	tb::LocalStorage s(dir_);
	{
		auto w = s.open_write("c.tbk", "w1");
		w->write(bytes_of("partial"), 7);
		EXPECT_EQ(temp_files().size(), 1u) << "the bytes go to a temporary file";
	}
	{
		auto w = s.open_write("d.tbk", "w1");
		w->write(bytes_of("whole"), 5);
		w->finish(); // durable but never published
	}
	{
		auto w = s.open_write("123/e.tbk", "w1"); // nothing written at all
	}
	EXPECT_TRUE(files().empty());
	EXPECT_TRUE(temp_files().empty());
	EXPECT_FALSE(s.exists("c.tbk"));
	EXPECT_FALSE(s.exists("d.tbk"));
	EXPECT_TRUE(s.list_temporaries().empty());
}

TEST_F(LocalStorageTest, ListTemporariesWhileWriting) {
	tb::LocalStorage s(dir_);
	store(s, "done.tbk", "x"); // a published object is no temporary
	auto w1 = s.open_write("123/45-abc.tbk", "pid4242");
	auto w2 = s.open_write("top.tbk", "job_7.b");
	w1->write(bytes_of("abc"), 3);
	auto temps = s.list_temporaries();
	std::sort(temps.begin(), temps.end(),
	          [](const tb::TemporaryObject &a, const tb::TemporaryObject &b) { return a.name < b.name; });
	ASSERT_EQ(temps.size(), 2u);
	EXPECT_EQ(temps[0].name, "123/45-abc.tbk.pid4242.tmp");
	EXPECT_EQ(temps[0].tag, "pid4242");
	EXPECT_EQ(temps[1].name, "top.tbk.job_7.b.tmp");
	EXPECT_EQ(temps[1].tag, "b") << "the tag is what follows the last dot";
	EXPECT_TRUE(fs::is_regular_file(dir_ + "/" + temps[0].name));

	w1->finish();
	w1->publish();
	temps = s.list_temporaries();
	ASSERT_EQ(temps.size(), 1u);
	EXPECT_EQ(temps[0].name, "top.tbk.job_7.b.tmp");
	w2.reset();
	EXPECT_TRUE(s.list_temporaries().empty());
}

TEST_F(LocalStorageTest, ListsFinishedObjectsByPrefixSorted) {
	tb::LocalStorage s(dir_);
	store(s, "7/2-b.tbk", "bb");
	store(s, "7/10-a.tbk", "a");
	store(s, "70/1-c.tbk", "ccc");
	store(s, "8/1-d.tbk", "");
	auto w = s.open_write("7/3-x.tbk", "p1"); // unpublished: not listed
	w->write(bytes_of("abc"), 3);
	auto all = s.list("");
	ASSERT_EQ(all.size(), 4u);
	EXPECT_EQ(all[0].name, "7/10-a.tbk");
	EXPECT_EQ(all[3].name, "8/1-d.tbk");
	auto seven = s.list("7/");
	ASSERT_EQ(seven.size(), 2u);
	EXPECT_EQ(seven[0].name, "7/10-a.tbk");
	EXPECT_EQ(seven[0].size, 1u);
	EXPECT_EQ(seven[1].name, "7/2-b.tbk");
	EXPECT_EQ(seven[1].size, 2u);
	EXPECT_EQ(s.list("7").size(), 3u) << "a prefix is a string, not a directory";
	EXPECT_TRUE(s.list("9/").empty());
	EXPECT_TRUE(tb::LocalStorage(dir_ + "/not-there").list("").empty());
}

TEST_F(LocalStorageTest, ListTemporariesOfMissingRepository) {
	tb::LocalStorage s(dir_ + "/not-there");
	EXPECT_TRUE(s.list_temporaries().empty());
}

// A repository that cannot be read is an error, never an empty listing: backup_sync would take
// every copy in it for missing (an unmounted disk, a permission or I/O error).
TEST_F(LocalStorageTest, AnUnreadableRepositoryIsAnErrorNotEmpty) {
	std::ofstream(dir_ + "/plain-file") << "x";
	tb::LocalStorage under_a_file(dir_ + "/plain-file/repo"); // opendir fails with ENOTDIR
	EXPECT_TRUE(throws_kind(ErrorKind::Io, [&] { under_a_file.list(""); }));
	EXPECT_TRUE(throws_kind(ErrorKind::Io, [&] { under_a_file.list_temporaries(); }));
	tb::LocalStorage root_is_a_file(dir_ + "/plain-file");
	EXPECT_TRUE(throws_kind(ErrorKind::Io, [&] { root_is_a_file.list(""); }));
}

TEST_F(LocalStorageTest, RemoveReportsWhetherTheObjectExisted) {
	tb::LocalStorage s(dir_);
	store(s, "r.tbk", "bytes");
	EXPECT_TRUE(s.remove("r.tbk"));
	EXPECT_FALSE(s.exists("r.tbk"));
	EXPECT_FALSE(s.remove("r.tbk"));
	EXPECT_FALSE(s.remove("never/was.tbk"));
	EXPECT_TRUE(files().empty());
}

TEST_F(LocalStorageTest, OpenReadOfMissingObjectIsNotFound) {
	tb::LocalStorage s(dir_);
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.open_read("missing.tbk"); }));
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { s.open_read("no/such/dir.tbk"); }));
	tb::LocalStorage absent(dir_ + "/absent");
	EXPECT_TRUE(throws_kind(ErrorKind::NotFound, [&] { absent.open_read("x"); }));
}

TEST_F(LocalStorageTest, NestedNamesCreateDirectories) {
	tb::LocalStorage s(dir_);
	store(s, "123/45-abc.tbk", "nested");
	store(s, "a/b/c/d.tbk", "deeper");
	EXPECT_TRUE(fs::is_directory(dir_ + "/123"));
	EXPECT_TRUE(fs::is_regular_file(dir_ + "/123/45-abc.tbk"));
	EXPECT_TRUE(fs::is_directory(dir_ + "/a/b/c"));
	EXPECT_EQ(mode_of(dir_ + "/123"), 0700u);
	EXPECT_EQ(mode_of(dir_ + "/a/b"), 0700u);
	EXPECT_EQ(load(s, "123/45-abc.tbk"), "nested");
	EXPECT_EQ(load(s, "a/b/c/d.tbk"), "deeper");
	EXPECT_EQ(files(), (std::vector<std::string>{"123/45-abc.tbk", "a/b/c/d.tbk"}));
	EXPECT_EQ(s.describe("123/45-abc.tbk"), dir_ + "/123/45-abc.tbk");
}

TEST_F(LocalStorageTest, CreatesMissingRootPrivately) {
	std::string root = dir_ + "/repo/inner";
	tb::LocalStorage s(root + "//"); // trailing slashes are ignored
	store(s, "x.tbk", "1");
	EXPECT_TRUE(fs::is_regular_file(root + "/x.tbk"));
	EXPECT_EQ(mode_of(dir_ + "/repo"), 0700u);
	EXPECT_EQ(mode_of(root), 0700u);
	EXPECT_EQ(s.describe("x.tbk"), root + "/x.tbk");
}

TEST_F(LocalStorageTest, EmptyRootIsInvalid) {
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::LocalStorage s(""); }));
}

TEST_F(LocalStorageTest, PublishReplacesAnExistingObject) {
	tb::LocalStorage s(dir_);
	store(s, "same.tbk", "old contents");
	store(s, "same.tbk", "new", "w2");
	EXPECT_EQ(load(s, "same.tbk"), "new");
	EXPECT_EQ(files(), std::vector<std::string>{"same.tbk"});
}

TEST_F(LocalStorageTest, ConcurrentWritersNeedDistinctTags) {
	tb::LocalStorage s(dir_);
	auto w1 = s.open_write("o.tbk", "a");
	auto w2 = s.open_write("o.tbk", "b");
	EXPECT_TRUE(throws_kind(ErrorKind::Io, [&] { s.open_write("o.tbk", "a"); }))
	    << "a second writer with the same tag must not share the temporary file";
	w1->write(bytes_of("one"), 3);
	w2->write(bytes_of("two"), 3);
	w1->finish();
	w2->finish();
	w2->publish();
	w1.reset();
	EXPECT_EQ(load(s, "o.tbk"), "two");
	EXPECT_TRUE(temp_files().empty());
}

TEST_F(LocalStorageTest, ReadingADirectoryFails) {
	tb::LocalStorage s(dir_);
	store(s, "d/x.tbk", "1");
	EXPECT_FALSE(s.exists("d")) << "a directory is no object";
	bool threw = false;
	try {
		auto src = s.open_read("d");
		read_all(*src);
	} catch (const tb::Error &e) {
		threw = true;
		EXPECT_EQ(e.kind(), ErrorKind::Io) << e.what();
	}
	EXPECT_TRUE(threw);
}

TEST_F(LocalStorageTest, InvalidNamesAreRejectedByEveryOperation) {
	tb::LocalStorage s(dir_);
	const std::string bad[] = {"",
	                           "..",
	                           "../x",
	                           "a/../b",
	                           "a/..",
	                           ".",
	                           "./a",
	                           "/abs",
	                           "a//b",
	                           "a/",
	                           "with space",
	                           std::string("nul\0byte", 8),
	                           std::string(256, 'n'),
	                           "back\\slash",
	                           "star*",
	                           "\xc3\xa9"};
	for (const auto &name : bad) {
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.open_write(name, "tag"); })) << name;
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.open_read(name); })) << name;
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.remove(name); })) << name;
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.exists(name); })) << name;
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.size(name); })) << name;
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.open_read(name, 1); })) << name;
	}
	for (const std::string tag : {"", "a/b", "..", "has space", "x.tmp/"})
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { s.open_write("ok.tbk", tag); })) << tag;
	EXPECT_TRUE(files().empty()) << "nothing was created for a rejected name";
	EXPECT_TRUE(fs::is_empty(dir_));
}

TEST(CheckObjectName, AcceptsSafeNames) {
	for (const std::string name : {"a", "123/45-abc.tbk", "A_b.c-d", "x/y/z", "...", "a.b.c", "-leading-dash"})
		EXPECT_NO_THROW(tb::check_object_name(name)) << name;
	EXPECT_NO_THROW(tb::check_object_name(std::string(255, 'n')));
	EXPECT_NO_THROW(tb::check_object_name(std::string(127, 'a') + "/" + std::string(127, 'b')));
	EXPECT_NO_THROW(tb::check_object_name("tag_1", false));
}

TEST(CheckObjectName, RejectsUnsafeNames) {
	const std::string bad[] = {"",
	                           "..",
	                           ".",
	                           "a/..",
	                           "../a",
	                           "a/../b",
	                           "a/./b",
	                           "/a",
	                           "/",
	                           "a/",
	                           "a//b",
	                           "//",
	                           " ",
	                           "a b",
	                           "tab\t",
	                           "new\nline",
	                           std::string(1, '\0'),
	                           std::string("a\0b", 3),
	                           std::string("ok\0", 3),
	                           std::string(256, 'n'),
	                           std::string(300, 'a'),
	                           "a:b",
	                           "a\\b",
	                           "~user",
	                           "$HOME",
	                           "\xc3\xa9t\xc3\xa9"};
	for (const auto &name : bad)
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { tb::check_object_name(name); }))
		    << "[" << name << "] length " << name.size();
}

TEST(CheckObjectName, SlashOnlyWhereAllowed) {
	EXPECT_NO_THROW(tb::check_object_name("a/b", true));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::check_object_name("a/b", false); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::check_object_name("a/b/c", false); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [] { tb::check_object_name("..", false); }));
}

// Failover: a directory on a local disk is node-local, so is one not created yet (judged by its
// nearest existing parent); network and cluster filesystem types are shared.
TEST_F(LocalStorageTest, NodeLocalByFilesystemType) {
	struct statfs here;
	ASSERT_EQ(::statfs(dir_.c_str(), &here), 0);
	bool local = !tb::shared_filesystem_type(static_cast<long>(here.f_type));
	EXPECT_EQ(tb::LocalStorage(dir_).node_local(), local);
	EXPECT_EQ(tb::LocalStorage(dir_ + "/not/made/yet").node_local(), local);
	EXPECT_TRUE(tb::shared_filesystem_type(0x6969));      // NFS
	EXPECT_TRUE(tb::shared_filesystem_type(0xff534d42L)); // CIFS
	EXPECT_TRUE(tb::shared_filesystem_type(0x00c36400));  // CephFS
	EXPECT_FALSE(tb::shared_filesystem_type(0xef53));     // ext4
	EXPECT_FALSE(tb::shared_filesystem_type(0x58465342)); // XFS
	EXPECT_FALSE(tb::shared_filesystem_type(0x01021994)); // tmpfs
}
