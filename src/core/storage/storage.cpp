#include "core/storage/storage.hpp"

#include "core/error.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

void check_object_name(const std::string &name, bool allow_slash) {
	if (name.empty() || name.size() > 255)
		throw Error(ErrorKind::InvalidInput, "invalid object name: empty or longer than 255 bytes");
	if (name.front() == '/' || name.back() == '/' || name.find("//") != std::string::npos)
		throw Error(ErrorKind::InvalidInput, "invalid object name \"" + name + "\"");
	size_t start = 0;
	while (start <= name.size()) {
		size_t end = name.find('/', start);
		if (end == std::string::npos)
			end = name.size();
		std::string segment = name.substr(start, end - start);
		if (segment == "." || segment == ".." || (end != name.size() && !allow_slash))
			throw Error(ErrorKind::InvalidInput, "invalid object name \"" + name + "\"");
		for (char c : segment) {
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			          c == '_' || c == '-';
			if (!ok)
				throw Error(ErrorKind::InvalidInput, "invalid object name \"" + name + "\"");
		}
		start = end + 1;
	}
}

} // namespace tb
