#include "core/storage/s3/s3_storage.hpp"

#include "core/error.hpp"
#include "core/net/uri.hpp"
#include "core/storage/s3/s3_credentials.hpp"
#include "core/storage/s3/s3_listing.hpp"
#include "core/storage/s3/s3_read.hpp"
#include "core/storage/s3/s3_write.hpp"

#include <algorithm>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

std::shared_ptr<const S3Config> checked(S3Config config) {
	check_s3_config(config);
	return std::make_shared<const S3Config>(std::move(config));
}

bool valid_name(const std::string &name) {
	try {
		check_object_name(name);
		return true;
	} catch (const Error &) {
		return false;
	}
}

} // namespace

S3Storage::S3Storage(S3Config config) : config_(checked(std::move(config))), client_(config_) {}

std::string S3Storage::key_prefix() const {
	return config_->prefix.empty() ? std::string() : config_->prefix + "/";
}

std::string S3Storage::key(const std::string &name) const {
	return key_prefix() + name;
}

std::string S3Storage::describe(const std::string &name) const {
	return client_.uri(key(name));
}

std::unique_ptr<WriteObject> S3Storage::open_write(const std::string &name, const std::string &tag) {
	check_object_name(name);
	check_object_name(tag, false);
	return open_s3_write(config_, name, key(name));
}

std::unique_ptr<Source> S3Storage::open_read(const std::string &name, uint64_t offset) {
	check_object_name(name);
	return open_s3_read(config_, key(name), offset);
}

uint64_t S3Storage::size(const std::string &name) {
	check_object_name(name);
	std::lock_guard<std::mutex> lock(mutex_);
	S3Head head = s3_head(client_, "check the size of", key(name));
	if (!head.exists)
		throw Error(ErrorKind::NotFound, "S3 object \"" + client_.uri(key(name)) + "\" does not exist");
	return head.size;
}

bool S3Storage::exists(const std::string &name) {
	check_object_name(name);
	std::lock_guard<std::mutex> lock(mutex_);
	return s3_head(client_, "check for", key(name)).exists;
}

bool S3Storage::remove(const std::string &name) {
	check_object_name(name);
	std::lock_guard<std::mutex> lock(mutex_);
	if (!s3_head(client_, "remove", key(name)).exists)
		return false;
	S3Request r;
	r.method = "DELETE";
	r.key = key(name);
	client_.call("remove", r, {404});
	return true;
}

std::vector<ObjectInfo> S3Storage::list(const std::string &prefix) {
	std::lock_guard<std::mutex> lock(mutex_);
	const std::string base = key_prefix();
	std::vector<ObjectInfo> out;
	for (auto &obj : s3_list_objects(client_, base + prefix)) {
		// Keys that are not names we could have written are someone else's: not listed.
		if (obj.key.compare(0, base.size(), base) != 0 || !valid_name(obj.key.substr(base.size())))
			continue;
		out.push_back({obj.key.substr(base.size()), obj.size});
	}
	std::sort(out.begin(), out.end(), [](const ObjectInfo &a, const ObjectInfo &b) { return a.name < b.name; });
	return out;
}

std::vector<IncompleteUpload> S3Storage::list_incomplete_uploads() {
	std::lock_guard<std::mutex> lock(mutex_);
	const std::string base = key_prefix();
	std::vector<IncompleteUpload> out;
	for (auto &u : s3_list_uploads(client_, base))
		if (u.key.compare(0, base.size(), base) == 0)
			out.push_back({u.key.substr(base.size()), u.upload_id});
	return out;
}

void S3Storage::abort_incomplete_upload(const IncompleteUpload &upload) {
	check_object_name(upload.name);
	std::lock_guard<std::mutex> lock(mutex_);
	S3Request r;
	r.method = "DELETE";
	r.key = key(upload.name);
	r.query = canonical_query({{"uploadId", upload.id}});
	client_.call("abort the upload of", r, {404});
}

std::unique_ptr<S3Storage> open_s3_storage(const std::string &url,
                                           const std::vector<std::pair<std::string, std::string>> &options) {
	S3Config config = parse_s3_url(url);
	std::string credentials_file, profile = "default";
	for (const auto &opt : options) {
		if (opt.first == "credentials_file")
			credentials_file = opt.second;
		else if (opt.first == "credentials_profile")
			profile = opt.second;
		else
			set_s3_option(config, opt.first, opt.second);
	}
	if (!credentials_file.empty()) {
		config.credentials = load_s3_credentials_file(credentials_file, profile);
	} else if (auto env = s3_credentials_from_env()) {
		config.credentials = *env;
	}
	return std::make_unique<S3Storage>(std::move(config));
}

} // namespace tb
