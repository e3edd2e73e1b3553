#include "fake_s3.hpp"

#include "core/storage/s3/s3_etag.hpp"

#include <cstring>

namespace tbtest {

namespace {

std::string query_value(const std::string &query, const std::string &name) {
	size_t pos = ("&" + query).find("&" + name + "=");
	if (pos == std::string::npos)
		return "";
	size_t begin = pos + name.size() + 1;
	return query.substr(begin, query.find('&', begin) - begin);
}

} // namespace

std::set<std::string> FakeS3::open_uploads() const {
	std::lock_guard<std::mutex> lock(mutex_);
	std::set<std::string> out;
	for (const auto &u : uploads_)
		out.insert(u.first);
	return out;
}

bool FakeS3::has_object(const std::string &key) const {
	std::lock_guard<std::mutex> lock(mutex_);
	return objects_.count(key) > 0;
}

FakeAnswer FakeS3::serve(const FakeRequest &r) {
	if (before)
		if (std::optional<FakeAnswer> answer = before(r))
			return *answer;
	FakeAnswer answer = apply(r);
	if (after)
		after(r, answer);
	return answer;
}

FakeAnswer FakeS3::apply(const FakeRequest &r) {
	std::lock_guard<std::mutex> lock(mutex_);
	const std::string key = r.path.substr(r.path.find('/', 1) + 1); // "/bucket/key"
	const std::string upload_id = query_value(r.query, "uploadId");
	FakeAnswer a;
	auto no_upload = [&] {
		a.status = 404;
		a.body = s3_error_xml("NoSuchUpload", "The specified upload does not exist.");
		return a;
	};
	if (r.method == "POST" && r.query == "uploads=") {
		std::string id = "u" + std::to_string(next_upload_++);
		uploads_[id].key = key;
		a.body = "<InitiateMultipartUploadResult><Key>" + key + "</Key><UploadId>" + id +
		         "</UploadId></InitiateMultipartUploadResult>";
	} else if (r.method == "GET" && r.query.find("uploads=") != std::string::npos) {
		a.body = "<ListMultipartUploadsResult>";
		for (const auto &u : uploads_)
			a.body += "<Upload><Key>" + u.second.key + "</Key><UploadId>" + u.first + "</UploadId></Upload>";
		a.body += "<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
	} else if (r.method == "GET" && r.query.find("list-type=2") != std::string::npos) {
		a.body = "<ListBucketResult>";
		for (const auto &o : objects_)
			a.body +=
			    "<Contents><Key>" + o.first + "</Key><Size>" + std::to_string(o.second.size) + "</Size></Contents>";
		a.body += "<IsTruncated>false</IsTruncated></ListBucketResult>";
	} else if (r.method == "PUT" && !upload_id.empty()) {
		if (!uploads_.count(upload_id))
			return no_upload();
		tb::Md5Digest md5 = tb::md5_of(reinterpret_cast<const uint8_t *>(r.body.data()), r.body.size());
		uploads_[upload_id].parts[std::stoi(query_value(r.query, "partNumber"))] = {
		    r.body.size(), std::string(reinterpret_cast<const char *>(md5.data()), md5.size())};
		a.headers.push_back("ETag: \"" + tb::hex_of(md5.data(), md5.size()) + "\"");
	} else if (r.method == "POST" && !upload_id.empty()) {
		auto it = uploads_.find(upload_id);
		if (it == uploads_.end())
			return no_upload();
		Object obj{0, ""};
		std::vector<tb::Md5Digest> md5s;
		for (const auto &p : it->second.parts) {
			obj.size += p.second.first;
			tb::Md5Digest d;
			std::memcpy(d.data(), p.second.second.data(), d.size());
			md5s.push_back(d);
		}
		obj.etag = tb::multipart_etag(md5s);
		objects_[key] = obj;
		uploads_.erase(it);
		a.body = "<CompleteMultipartUploadResult><Key>" + key + "</Key><ETag>\"" + obj.etag +
		         "\"</ETag></CompleteMultipartUploadResult>";
	} else if (r.method == "DELETE" && !upload_id.empty()) {
		if (!uploads_.erase(upload_id))
			return no_upload();
		a.status = 204;
	} else if (r.method == "PUT") {
		tb::Md5Digest md5 = tb::md5_of(reinterpret_cast<const uint8_t *>(r.body.data()), r.body.size());
		objects_[key] = {r.body.size(), tb::single_put_etag(md5)};
		a.headers.push_back("ETag: \"" + objects_[key].etag + "\"");
	} else if (r.method == "HEAD") {
		auto it = objects_.find(key);
		if (it == objects_.end()) {
			a.status = 404;
		} else {
			a.headers.push_back("Content-Length: " + std::to_string(it->second.size));
			a.headers.push_back("ETag: \"" + it->second.etag + "\"");
		}
	} else if (r.method == "DELETE") {
		objects_.erase(key);
		a.status = 204;
	} else {
		a.status = 501;
		a.body = s3_error_xml("NotImplemented", "not in the fake");
	}
	return a;
}

} // namespace tbtest
