#include "core/crypto/master_keys.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::crypto {

std::vector<Key> parse_key_list(const std::string &text, const std::string &origin) {
	std::vector<Key> keys;
	std::istringstream lines(text);
	std::string line;
	int number = 0;
	while (std::getline(lines, line)) {
		number++;
		size_t start = line.find_first_not_of(" \t\r");
		if (start == std::string::npos || line[start] == '#')
			continue;
		keys.push_back(parse_hex_key(line, origin + " (line " + std::to_string(number) + ")"));
	}
	if (keys.empty())
		throw Error(ErrorKind::InvalidInput, origin + " holds no key");
	return keys;
}

std::vector<Key> read_key_file(const std::string &path, const std::string &forbidden_dir) {
	if (path.empty() || path[0] != '/')
		throw Error(ErrorKind::InvalidInput, "encryption key file must be an absolute path");
	char resolved[PATH_MAX], forbidden[PATH_MAX];
	if (!::realpath(path.c_str(), resolved))
		throw_system_error("open encryption key file", path, errno);
	if (!forbidden_dir.empty() && ::realpath(forbidden_dir.c_str(), forbidden)) {
		std::string inside = std::string(forbidden) + "/";
		if (std::string(resolved).compare(0, inside.size(), inside) == 0)
			throw Error(ErrorKind::InvalidInput,
			            "encryption key file " + path + " is inside the data directory; keep keys apart from the data");
	}
	int fd = ::open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		throw_system_error("open encryption key file", path, errno);
	struct stat st;
	std::string text;
	bool ok = ::fstat(fd, &st) == 0;
	int err = errno;
	if (ok && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0 && st.st_size <= 65536) {
		char buf[4096];
		ssize_t n;
		while ((n = ::read(fd, buf, sizeof(buf))) > 0)
			text.append(buf, static_cast<size_t>(n));
		ok = n == 0;
		err = errno;
	}
	::close(fd);
	if (!ok)
		throw_system_error("read encryption key file", path, err);
	if (!S_ISREG(st.st_mode) || st.st_size > 65536)
		throw Error(ErrorKind::InvalidInput, "encryption key file " + path + " is not a small regular file");
	if (st.st_mode & 077)
		throw Error(ErrorKind::InvalidInput,
		            "encryption key file " + path + " is accessible by other users; it must be mode 0600 or 0400");
	return parse_key_list(text, "encryption key file " + path);
}

} // namespace tb::crypto
