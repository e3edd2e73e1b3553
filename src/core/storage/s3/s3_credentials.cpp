#include "core/storage/s3/s3_credentials.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

std::string trim(const std::string &s) {
	size_t b = s.find_first_not_of(" \t\r");
	if (b == std::string::npos)
		return std::string();
	size_t e = s.find_last_not_of(" \t\r");
	return s.substr(b, e - b + 1);
}

std::string env(const char *name) {
	const char *v = std::getenv(name);
	return v ? v : "";
}

} // namespace

std::optional<S3Credentials> s3_credentials_from_env() {
	S3Credentials c{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
	if (c.access_key_id.empty() || c.secret_access_key.empty())
		return std::nullopt;
	return c;
}

S3Credentials parse_s3_credentials(const std::string &text, const std::string &profile, const std::string &source) {
	S3Credentials c;
	std::istringstream in(text);
	std::string line, section;
	bool saw_section = false;
	int lineno = 0;
	while (std::getline(in, line)) {
		lineno++;
		line = trim(line);
		if (line.empty() || line[0] == '#' || line[0] == ';')
			continue;
		if (line.front() == '[') {
			if (line.back() != ']')
				throw Error(ErrorKind::InvalidInput, "S3 credentials file " + source + ", line " +
				                                         std::to_string(lineno) + ": unterminated section");
			section = trim(line.substr(1, line.size() - 2));
			if (section.compare(0, 8, "profile ") == 0) // ~/.aws/config spells sections so
				section = trim(section.substr(8));
			saw_section = true;
			continue;
		}
		size_t eq = line.find('=');
		if (eq == std::string::npos) // the line may hold a secret: never quote it
			throw Error(ErrorKind::InvalidInput, "S3 credentials file " + source + ", line " + std::to_string(lineno) +
			                                         ": expected name = value");
		if (saw_section && section != profile)
			continue;
		std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
		if (key.compare(0, 4, "aws_") == 0)
			key = key.substr(4);
		if (key == "access_key_id")
			c.access_key_id = value;
		else if (key == "secret_access_key")
			c.secret_access_key = value;
		else if (key == "session_token")
			c.session_token = value;
		// Other settings (region, output, ...) belong to other tools.
	}
	if (c.access_key_id.empty() || c.secret_access_key.empty())
		throw Error(ErrorKind::InvalidInput, "S3 credentials file " + source + " has no access key id and secret" +
		                                         (saw_section ? " in section [" + profile + "]" : std::string()));
	return c;
}

S3Credentials load_s3_credentials_file(const std::string &path, const std::string &profile) {
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		throw_system_error("open S3 credentials file", path, errno);
	struct stat st;
	if (::fstat(fd, &st) != 0) {
		int err = errno;
		::close(fd);
		throw_system_error("stat S3 credentials file", path, err);
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		::close(fd);
		throw Error(ErrorKind::InvalidInput,
		            "S3 credentials file \"" + path +
		                "\" must be a regular file that only its owner may access (chmod 600)");
	}
	std::string text;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			text.append(buf, static_cast<size_t>(n));
	int err = errno;
	::close(fd);
	if (n < 0)
		throw_system_error("read S3 credentials file", path, err);
	return parse_s3_credentials(text, profile, "\"" + path + "\"");
}

} // namespace tb
