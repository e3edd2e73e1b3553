#include "core/storage/s3/s3_xml.hpp"

#include "core/error.hpp"

#include <cstdlib>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

[[noreturn]] void malformed(const std::string &what) {
	throw Error(ErrorKind::Io, "unexpected answer from S3: " + what);
}

// Finds the next start tag <tag> or <tag attr...> or <tag/> at or after pos. Returns the
// position of '<' and sets content_begin just past '>' (self_closing when "/>").
size_t find_start(const std::string &xml, const std::string &tag, size_t pos, size_t &content_begin,
                  bool &self_closing) {
	std::string open = "<" + tag;
	while ((pos = xml.find(open, pos)) != std::string::npos) {
		size_t after = pos + open.size();
		if (after < xml.size() && (xml[after] == '>' || xml[after] == ' ' || xml[after] == '/' || xml[after] == '\t' ||
		                           xml[after] == '\n' || xml[after] == '\r')) {
			size_t close = xml.find('>', after);
			if (close == std::string::npos)
				malformed("unterminated <" + tag + "> tag");
			self_closing = xml[close - 1] == '/';
			content_begin = close + 1;
			return pos;
		}
		pos = after;
	}
	return std::string::npos;
}

std::string decode_entities(const std::string &s) {
	std::string out;
	out.reserve(s.size());
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] != '&') {
			out.push_back(s[i]);
			continue;
		}
		size_t semi = s.find(';', i);
		if (semi == std::string::npos)
			malformed("unterminated entity");
		std::string name = s.substr(i + 1, semi - i - 1);
		if (name == "amp")
			out.push_back('&');
		else if (name == "lt")
			out.push_back('<');
		else if (name == "gt")
			out.push_back('>');
		else if (name == "quot")
			out.push_back('"');
		else if (name == "apos")
			out.push_back('\'');
		else if (name.size() > 1 && name[0] == '#') {
			long code = name[1] == 'x' ? std::strtol(name.c_str() + 2, nullptr, 16)
			                           : std::strtol(name.c_str() + 1, nullptr, 10);
			if (code <= 0 || code > 0x7f)
				malformed("unsupported character reference &" + name + ";"); // keys are ASCII
			out.push_back(static_cast<char>(code));
		} else
			malformed("unknown entity &" + name + ";");
		i = semi;
	}
	return out;
}

uint64_t parse_size(const std::string &text) {
	if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
		malformed("object size \"" + text + "\" is not a number");
	return std::strtoull(text.c_str(), nullptr, 10);
}

bool parse_bool(const std::string &text) {
	if (text == "true")
		return true;
	if (text == "false" || text.empty())
		return false;
	malformed("\"" + text + "\" is not a boolean");
}

void require_root(const std::string &xml, const std::string &root) {
	size_t begin;
	bool self_closing;
	if (find_start(xml, root, 0, begin, self_closing) == std::string::npos)
		malformed("no <" + root + "> element in: " + xml.substr(0, 200));
}

} // namespace

std::vector<std::string> xml_elements(const std::string &xml, const std::string &tag) {
	std::vector<std::string> out;
	size_t pos = 0, begin;
	bool self_closing;
	while (find_start(xml, tag, pos, begin, self_closing) != std::string::npos) {
		if (self_closing) {
			out.emplace_back();
			pos = begin;
			continue;
		}
		size_t end = xml.find("</" + tag + ">", begin);
		if (end == std::string::npos)
			malformed("unterminated <" + tag + "> element");
		out.push_back(xml.substr(begin, end - begin));
		pos = end + tag.size() + 3;
	}
	return out;
}

std::string xml_text(const std::string &xml, const std::string &tag, bool *found) {
	size_t begin;
	bool self_closing;
	bool present = find_start(xml, tag, 0, begin, self_closing) != std::string::npos;
	if (found)
		*found = present;
	if (!present || self_closing)
		return std::string();
	size_t end = xml.find("</" + tag + ">", begin);
	if (end == std::string::npos)
		malformed("unterminated <" + tag + "> element");
	return decode_entities(xml.substr(begin, end - begin));
}

std::string xml_escape(const std::string &s) {
	std::string out;
	for (char c : s) {
		switch (c) {
		case '&':
			out += "&amp;";
			break;
		case '<':
			out += "&lt;";
			break;
		case '>':
			out += "&gt;";
			break;
		case '"':
			out += "&quot;";
			break;
		case '\'':
			out += "&apos;";
			break;
		default:
			out.push_back(c);
		}
	}
	return out;
}

S3ListPage parse_list_objects(const std::string &xml) {
	require_root(xml, "ListBucketResult");
	S3ListPage page;
	for (const auto &contents : xml_elements(xml, "Contents")) {
		bool has_key = false;
		S3ListedObject obj;
		obj.key = xml_text(contents, "Key", &has_key);
		if (!has_key)
			malformed("<Contents> without <Key>");
		obj.size = parse_size(xml_text(contents, "Size"));
		page.objects.push_back(std::move(obj));
	}
	page.truncated = parse_bool(xml_text(xml, "IsTruncated"));
	page.next_token = xml_text(xml, "NextContinuationToken");
	if (page.truncated && page.next_token.empty())
		malformed("a truncated listing without <NextContinuationToken>");
	return page;
}

S3UploadsPage parse_list_uploads(const std::string &xml) {
	require_root(xml, "ListMultipartUploadsResult");
	S3UploadsPage page;
	for (const auto &upload : xml_elements(xml, "Upload"))
		page.uploads.push_back({xml_text(upload, "Key"), xml_text(upload, "UploadId")});
	page.truncated = parse_bool(xml_text(xml, "IsTruncated"));
	page.next_key_marker = xml_text(xml, "NextKeyMarker");
	page.next_upload_id_marker = xml_text(xml, "NextUploadIdMarker");
	if (page.truncated && page.next_key_marker.empty())
		malformed("a truncated upload listing without <NextKeyMarker>");
	return page;
}

std::string parse_upload_id(const std::string &xml) {
	require_root(xml, "InitiateMultipartUploadResult");
	std::string id = xml_text(xml, "UploadId");
	if (id.empty())
		malformed("no <UploadId> in the answer to CreateMultipartUpload");
	return id;
}

S3ErrorBody parse_error_body(const std::string &xml) {
	try {
		size_t begin;
		bool self_closing;
		if (find_start(xml, "Error", 0, begin, self_closing) == std::string::npos)
			return {};
		return {xml_text(xml, "Code"), xml_text(xml, "Message")};
	} catch (const Error &) {
		return {};
	}
}

} // namespace tb
