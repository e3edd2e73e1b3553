#include "core/storage/local/local_storage.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <vector>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

constexpr const char *kTempSuffix = ".tmp";

class Fd {
public:
	explicit Fd(int fd = -1) : fd_(fd) {}
	~Fd() { reset(); }
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	int get() const { return fd_; }
	void adopt(int fd) {
		reset();
		fd_ = fd;
	}
	void reset() {
		if (fd_ >= 0)
			::close(fd_);
		fd_ = -1;
	}
	// close() reports deferred write errors on some file systems, so a writer checks it.
	int close_checked() {
		int rc = ::close(fd_);
		fd_ = -1;
		return rc;
	}

private:
	int fd_;
};

void fsync_dir(const std::string &dir) {
	Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (fd.get() < 0)
		throw_system_error("open directory", dir, errno);
	if (::fsync(fd.get()) != 0)
		throw_system_error("fsync directory", dir, errno);
}

std::string parent_of(const std::string &path) {
	size_t slash = path.rfind('/');
	return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// mkdir -p, with mode 0700: archives hold tenant data.
void make_dirs(const std::string &path) {
	for (size_t pos = 1; pos <= path.size(); pos++) {
		if (pos == path.size() || path[pos] == '/') {
			std::string prefix = path.substr(0, pos);
			if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
				throw_system_error("create directory", prefix, errno);
		}
	}
}

class LocalWriteObject : public WriteObject {
public:
	LocalWriteObject(std::string name, std::string final_path, std::string temp_path)
	    : name_(std::move(name)), final_path_(std::move(final_path)), temp_path_(std::move(temp_path)) {
		make_dirs(parent_of(final_path_));
		fd_.adopt(::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
		if (fd_.get() < 0)
			throw_system_error("create file", temp_path_, errno);
	}
	~LocalWriteObject() override {
		if (!published_) {
			fd_.reset();
			::unlink(temp_path_.c_str());
		}
	}
	void write(const uint8_t *data, size_t len) override {
		while (len > 0) {
			ssize_t n = ::write(fd_.get(), data, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				throw_system_error("write file", temp_path_, errno);
			data += n;
			len -= static_cast<size_t>(n);
		}
	}
	void finish() override {
		if (::fsync(fd_.get()) != 0)
			throw_system_error("fsync file", temp_path_, errno);
		if (fd_.close_checked() != 0)
			throw_system_error("close file", temp_path_, errno);
	}
	void publish() override {
		if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
			throw_system_error("rename file", temp_path_, errno);
		published_ = true;
		fsync_dir(parent_of(final_path_));
	}
	const std::string &name() const override { return name_; }

private:
	std::string name_, final_path_, temp_path_;
	Fd fd_;
	bool published_ = false;
};

class LocalReadSource : public Source {
public:
	LocalReadSource(const std::string &path, uint64_t offset)
	    : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
		if (fd_.get() < 0)
			throw_system_error("open file", path, errno);
		if (offset && ::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
			throw_system_error("seek in file", path, errno);
	}
	size_t read(uint8_t *buf, size_t cap) override {
		while (true) {
			ssize_t n = ::read(fd_.get(), buf, cap);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				throw_system_error("read file", path_, errno);
			return static_cast<size_t>(n);
		}
	}

private:
	std::string path_;
	Fd fd_;
};

bool is_temporary(const std::string &entry) {
	return entry.size() > 4 && entry.compare(entry.size() - 4, 4, kTempSuffix) == 0;
}

// Calls fn(name, size) for every regular file below dir; names are relative to the repository root.
template <typename Fn> void walk_files(const std::string &root, const std::string &rel, const Fn &fn) {
	std::string dir = rel.empty() ? root : root + "/" + rel;
	DIR *d = ::opendir(dir.c_str());
	if (!d && errno == ENOENT)
		return; // a repository not yet written to (or a directory removed meanwhile) holds nothing
	if (!d)     // never "empty" for a directory we cannot read: callers act on what is missing
		throw_system_error("list", dir, errno);
	std::vector<std::string> subdirs;
	while (struct dirent *e = ::readdir(d)) {
		std::string entry = e->d_name;
		if (entry == "." || entry == "..")
			continue;
		std::string name = rel.empty() ? entry : rel + "/" + entry;
		struct stat st;
		if (::lstat((root + "/" + name).c_str(), &st) != 0) {
			if (errno == ENOENT)
				continue; // removed since readdir
			int err = errno;
			::closedir(d);
			throw_system_error("examine", root + "/" + name, err);
		}
		if (S_ISDIR(st.st_mode))
			subdirs.push_back(name);
		else if (S_ISREG(st.st_mode))
			fn(name, static_cast<uint64_t>(st.st_size));
	}
	::closedir(d);
	for (const auto &sub : subdirs)
		walk_files(root, sub, fn);
}

} // namespace

LocalStorage::LocalStorage(std::string root) : root_(std::move(root)) {
	while (root_.size() > 1 && root_.back() == '/')
		root_.pop_back();
	if (root_.empty())
		throw Error(ErrorKind::InvalidInput, "repository directory is empty");
}

std::string LocalStorage::path(const std::string &name) const {
	return root_ + "/" + name;
}

std::unique_ptr<WriteObject> LocalStorage::open_write(const std::string &name, const std::string &tag) {
	check_object_name(name);
	check_object_name(tag, false);
	if (name.size() >= 4 && name.compare(name.size() - 4, 4, kTempSuffix) == 0)
		throw Error(ErrorKind::InvalidInput, "object names may not end in \"" + std::string(kTempSuffix) + "\"");
	make_dirs(root_);
	return std::make_unique<LocalWriteObject>(name, path(name), path(name) + "." + tag + kTempSuffix);
}

std::unique_ptr<Source> LocalStorage::open_read(const std::string &name, uint64_t offset) {
	check_object_name(name);
	return std::make_unique<LocalReadSource>(path(name), offset);
}

uint64_t LocalStorage::size(const std::string &name) {
	check_object_name(name);
	struct stat st;
	if (::stat(path(name).c_str(), &st) != 0)
		throw_system_error("stat file", path(name), errno);
	return static_cast<uint64_t>(st.st_size);
}

bool LocalStorage::remove(const std::string &name) {
	check_object_name(name);
	if (::unlink(path(name).c_str()) == 0)
		return true;
	if (errno == ENOENT)
		return false;
	throw_system_error("remove file", path(name), errno);
}

bool LocalStorage::exists(const std::string &name) {
	check_object_name(name);
	struct stat st;
	return ::stat(path(name).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<ObjectInfo> LocalStorage::list(const std::string &prefix) {
	std::vector<ObjectInfo> out;
	walk_files(root_, "", [&](const std::string &name, uint64_t size) {
		if (name.compare(0, prefix.size(), prefix) == 0 && !is_temporary(name))
			out.push_back({name, size});
	});
	std::sort(out.begin(), out.end(), [](const ObjectInfo &a, const ObjectInfo &b) { return a.name < b.name; });
	return out;
}

std::vector<TemporaryObject> LocalStorage::list_temporaries() {
	std::vector<TemporaryObject> out;
	walk_files(root_, "", [&](const std::string &name, uint64_t) {
		if (!is_temporary(name))
			return;
		std::string stem = name.substr(0, name.size() - 4);
		size_t dot = stem.rfind('.');
		size_t slash = stem.rfind('/');
		bool tagged = dot != std::string::npos && (slash == std::string::npos || dot > slash);
		out.push_back({name, tagged ? stem.substr(dot + 1) : ""});
	});
	return out;
}

bool shared_filesystem_type(long f_type) {
	switch (static_cast<unsigned long>(f_type) & 0xffffffffUL) {
	case 0x6969UL:     // NFS
	case 0x517bUL:     // SMB
	case 0xfe534d42UL: // SMB2
	case 0xff534d42UL: // CIFS
	case 0x00c36400UL: // CephFS
	case 0x65735546UL: // FUSE (GlusterFS, s3fs, sshfs, ...)
	case 0x01161970UL: // GFS2
	case 0x7461636fUL: // OCFS2
	case 0x5346414fUL: // AFS
	case 0x0bd00bd0UL: // Lustre
	case 0x47504653UL: // GPFS
	case 0x01021997UL: // 9p (v9fs)
		return true;
	default:
		return false;
	}
}

bool LocalStorage::node_local() const {
	std::string dir = root_;
	struct statfs fs;
	while (statfs(dir.c_str(), &fs) != 0) {
		size_t slash = dir.find_last_of('/');
		if (errno != ENOENT || slash == std::string::npos || dir == "/")
			return true; // cannot tell: assume the worst, which only warns
		dir = slash == 0 ? "/" : dir.substr(0, slash);
	}
	return !shared_filesystem_type(static_cast<long>(fs.f_type));
}

} // namespace tb
