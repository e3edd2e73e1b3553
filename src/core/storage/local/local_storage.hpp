// A repository in a local directory. Writes go to "<name>.<tag>.tmp", are fsync'ed, then renamed
// and the directory fsync'ed, so a crash leaves either the whole archive or a temporary file.
#pragma once
#include "core/storage/storage.hpp"

namespace tb {

// Whether a filesystem of this statfs(2) f_type is shared between machines (network and cluster
// filesystems, FUSE, which GlusterFS and most network mounts use).
bool shared_filesystem_type(long f_type);

class LocalStorage : public Storage {
public:
	// The root directory (mode 0700) is created by the first write.
	explicit LocalStorage(std::string root);
	std::unique_ptr<WriteObject> open_write(const std::string &name, const std::string &tag) override;
	std::unique_ptr<Source> open_read(const std::string &name, uint64_t offset = 0) override;
	uint64_t size(const std::string &name) override;
	bool remove(const std::string &name) override;
	bool exists(const std::string &name) override;
	std::vector<ObjectInfo> list(const std::string &prefix) override;
	std::vector<TemporaryObject> list_temporaries() override;
	std::string describe(const std::string &name) const override { return path(name); }
	bool publish_is_local() const override { return true; }
	// By the type of the filesystem holding the root (or its nearest existing parent).
	bool node_local() const override;

private:
	std::string path(const std::string &name) const;
	std::string root_;
};

} // namespace tb
