// Just enough of an S3 bucket, on a FakeHttpServer, for tests of the writer's request sequences:
// multipart uploads (create, parts, complete, abort, list), PUT, HEAD and DELETE of objects. No
// signature checks, no object bytes kept (sizes and ETags only). Hooks inject faults before a
// request is applied or replace the answer after it was.
#pragma once
#include "fake_http_server.hpp"

#include <map>
#include <optional>
#include <set>

namespace tbtest {

class FakeS3 {
public:
	// Before a request is applied: an answer here replaces it, and the bucket is left unchanged.
	std::function<std::optional<FakeAnswer>(const FakeRequest &)> before;
	// After it was applied: may change the answer (e.g. Drop: the client never learns it happened).
	std::function<void(const FakeRequest &, FakeAnswer &)> after;

	FakeS3() : server_([this](const FakeRequest &r) { return serve(r); }) {}
	std::string url() const { return server_.url(); }
	const FakeHttpServer &server() const { return server_; }
	// Ids of the uploads neither completed nor aborted.
	std::set<std::string> open_uploads() const;
	bool has_object(const std::string &key) const;

private:
	FakeAnswer serve(const FakeRequest &r);
	FakeAnswer apply(const FakeRequest &r);

	struct Upload {
		std::string key;
		std::map<int, std::pair<uint64_t, std::string>> parts; // number -> size, binary MD5
	};
	struct Object {
		uint64_t size;
		std::string etag;
	};
	mutable std::mutex mutex_;
	std::map<std::string, Upload> uploads_;
	std::map<std::string, Object> objects_;
	int next_upload_ = 1;
	FakeHttpServer server_; // last: its thread calls serve() and must stop before the rest goes
};

} // namespace tbtest
