#include "core/storage/s3/s3_listing.hpp"

#include "core/net/uri.hpp"
#include "core/storage/s3/s3_page_cursor.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

std::vector<S3ListedObject> s3_list_objects(S3Client &client, const std::string &key_prefix) {
	const std::string what = "list";
	S3PageCursor cursor("could not " + what + " \"" + client.uri(key_prefix) + "\"");
	std::vector<S3ListedObject> out;
	std::string token;
	while (true) {
		std::vector<std::pair<std::string, std::string>> params = {
		    {"list-type", "2"}, {"max-keys", std::to_string(client.config().list_page_size)}};
		if (!key_prefix.empty())
			params.emplace_back("prefix", key_prefix);
		if (!token.empty())
			params.emplace_back("continuation-token", token);
		S3Request r;
		r.query = canonical_query(params);
		r.subject = key_prefix;
		S3ListPage page = parse_list_objects(client.call(what, r).body);
		for (auto &obj : page.objects)
			out.push_back(std::move(obj));
		if (!cursor.next_page(page.truncated, page.next_token))
			return out;
		token = page.next_token;
	}
}

std::vector<S3ListedUpload> s3_list_uploads(S3Client &client, const std::string &key_prefix) {
	const std::string what = "list the uploads of";
	S3PageCursor cursor("could not " + what + " \"" + client.uri(key_prefix) + "\"");
	std::vector<S3ListedUpload> out;
	std::string key_marker, id_marker;
	while (true) {
		std::vector<std::pair<std::string, std::string>> params = {{"uploads", ""}};
		if (!key_prefix.empty())
			params.emplace_back("prefix", key_prefix);
		if (!key_marker.empty())
			params.emplace_back("key-marker", key_marker);
		if (!id_marker.empty())
			params.emplace_back("upload-id-marker", id_marker);
		S3Request r;
		r.query = canonical_query(params);
		r.subject = key_prefix;
		S3UploadsPage page = parse_list_uploads(client.call(what, r).body);
		for (auto &u : page.uploads)
			out.push_back(std::move(u));
		// The two markers are the position together; '\n' never occurs in either.
		std::string position =
		    page.next_key_marker.empty() ? std::string() : page.next_key_marker + "\n" + page.next_upload_id_marker;
		if (!cursor.next_page(page.truncated, position))
			return out;
		key_marker = page.next_key_marker;
		id_marker = page.next_upload_id_marker;
	}
}

} // namespace tb
