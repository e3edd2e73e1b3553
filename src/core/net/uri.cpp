#include "core/net/uri.hpp"

#include <algorithm>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

std::string uri_encode(const std::string &s, bool keep_slash) {
	static const char hex[] = "0123456789ABCDEF";
	std::string out;
	out.reserve(s.size());
	for (unsigned char c : s) {
		bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		                  c == '.' || c == '_' || c == '~';
		if (unreserved || (keep_slash && c == '/')) {
			out.push_back(static_cast<char>(c));
		} else {
			out.push_back('%');
			out.push_back(hex[c >> 4]);
			out.push_back(hex[c & 0xf]);
		}
	}
	return out;
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> params) {
	for (auto &p : params) {
		p.first = uri_encode(p.first, false);
		p.second = uri_encode(p.second, false);
	}
	std::sort(params.begin(), params.end());
	std::string out;
	for (const auto &p : params) {
		if (!out.empty())
			out += '&';
		out += p.first + '=' + p.second;
	}
	return out;
}

} // namespace tb
