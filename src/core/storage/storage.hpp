// A repository of archives. Drivers (local/, s3/) implement this interface; callers never switch
// on the driver type: what only some drivers have (uploads left incomplete) is part of it, with a
// default for the drivers that have none.
#pragma once
#include "core/stream/stream.hpp"

#include <memory>
#include <string>
#include <vector>

namespace tb {

// An object being written. Bytes go to a temporary object; finish() makes them durable;
// publish() makes them visible under the final name. Destroying it unpublished discards it.
class WriteObject : public Sink {
public:
	virtual void publish() = 0;
	virtual const std::string &name() const = 0;
};

struct ObjectInfo {
	std::string name; // storage-relative
	uint64_t size = 0;
};

// A write that a driver keeps apart from finished objects until it completes (an S3 multipart
// upload): left behind by a writer that died, it is neither listed nor removed by remove().
struct IncompleteUpload {
	std::string name; // storage-relative, as given to open_write
	std::string id;   // the driver's own identifier of the upload
};

struct TemporaryObject {
	std::string name; // storage-relative name of the temporary object
	std::string tag;  // the tag given to open_write: tells who was writing it
};

class Storage {
public:
	virtual ~Storage() = default;
	// name: storage-relative, made only of [A-Za-z0-9._-] segments separated by '/'.
	// tag: same alphabet without '/'; recorded in the temporary name so that leftovers of a
	// writer that died can be recognised (see list_temporaries).
	virtual std::unique_ptr<WriteObject> open_write(const std::string &name, const std::string &tag) = 0;
	// Reads from byte `offset` on. Throws ErrorKind::NotFound if the object does not exist.
	virtual std::unique_ptr<Source> open_read(const std::string &name, uint64_t offset = 0) = 0;
	// Size in bytes. Throws ErrorKind::NotFound if the object does not exist.
	virtual uint64_t size(const std::string &name) = 0;
	// Removing an object that does not exist is not an error; returns whether it existed.
	virtual bool remove(const std::string &name) = 0;
	virtual bool exists(const std::string &name) = 0;
	// Finished objects whose names start with `prefix` (any string; "" lists all), sorted by name.
	// Temporary objects are not listed.
	virtual std::vector<ObjectInfo> list(const std::string &prefix) = 0;
	virtual std::vector<TemporaryObject> list_temporaries() = 0;
	// Where the repository is, for messages and the catalog.
	virtual std::string describe(const std::string &name) const = 0;
	// Whether WriteObject::publish() is a local step that fails only when the machine does (a
	// rename), so that it can wait until the last moment; false where it needs a network (S3).
	virtual bool publish_is_local() const { return false; }
	// Whether only this machine reaches the objects (a directory on a local disk), so that a copy
	// here does not survive a failover to another node; false for a network or cluster filesystem
	// (NFS, SMB, CephFS, GlusterFS, GFS2, OCFS2, ...) and for object stores (docs/STORAGE.md "High
	// availability").
	virtual bool node_local() const { return false; }
	// Writes left incomplete under this repository (none for drivers whose writes are files), and
	// removing one (its object was never visible).
	virtual std::vector<IncompleteUpload> list_incomplete_uploads() { return {}; }
	virtual void abort_incomplete_upload(const IncompleteUpload &) {}
};

// Throws InvalidInput unless name is a safe storage-relative name (see Storage::open_write).
void check_object_name(const std::string &name, bool allow_slash = true);

} // namespace tb
