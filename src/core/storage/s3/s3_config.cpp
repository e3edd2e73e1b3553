#include "core/storage/s3/s3_config.hpp"

#include "core/error.hpp"
#include "core/storage/storage.hpp"

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

const std::string kPartSizeLimits = "between 5 MiB (5242880 bytes) and 512 MiB (536870912 bytes): one part is "
                                    "held in memory per upload";

[[noreturn]] void bad_option(const std::string &name, const std::string &value, const std::string &why) {
	throw Error(ErrorKind::InvalidInput, "invalid value \"" + value + "\" for S3 option " + name + ": " + why);
}

bool parse_bool(const std::string &name, const std::string &value) {
	if (value == "true" || value == "on" || value == "1" || value == "yes")
		return true;
	if (value == "false" || value == "off" || value == "0" || value == "no")
		return false;
	bad_option(name, value, "expected true or false");
}

uint64_t parse_uint(const std::string &name, const std::string &value, uint64_t max) {
	if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
		bad_option(name, value, "expected a non-negative integer");
	errno = 0;
	unsigned long long v = std::strtoull(value.c_str(), nullptr, 10);
	if (errno == ERANGE || v > max)
		bad_option(name, value, "at most " + std::to_string(max));
	return v;
}

// Bucket names as S3 allows them (legacy names included), never anything that could break a URL.
void check_bucket(const std::string &bucket) {
	bool ok = bucket.size() >= 3 && bucket.size() <= 63;
	for (char c : bucket)
		ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		            c == '-' || c == '_');
	if (!ok)
		throw Error(ErrorKind::InvalidInput, "invalid S3 bucket name \"" + bucket + "\"");
}

} // namespace

S3Config parse_s3_url(const std::string &url) {
	const std::string scheme = "s3://";
	if (url.compare(0, scheme.size(), scheme) != 0)
		throw Error(ErrorKind::InvalidInput, "S3 repository \"" + url + "\" does not start with s3://");
	std::string rest = url.substr(scheme.size());
	while (!rest.empty() && rest.back() == '/')
		rest.pop_back();
	S3Config config;
	size_t slash = rest.find('/');
	config.bucket = rest.substr(0, slash);
	check_bucket(config.bucket);
	if (slash != std::string::npos) {
		config.prefix = rest.substr(slash + 1);
		try {
			check_object_name(config.prefix);
		} catch (const Error &) {
			throw Error(ErrorKind::InvalidInput, "invalid key prefix in S3 repository \"" + url +
			                                         "\": use segments of A-Z a-z 0-9 . _ - separated by /");
		}
	}
	return config;
}

void set_s3_option(S3Config &c, const std::string &name, const std::string &value) {
	const uint64_t max_ms = 24 * 3600 * 1000;
	if (name == "endpoint") {
		std::string v = value;
		while (!v.empty() && v.back() == '/')
			v.pop_back();
		if (v.compare(0, 7, "http://") != 0 && v.compare(0, 8, "https://") != 0)
			bad_option(name, value, "expected http://host[:port] or https://host[:port]");
		if (v.find('/', v.find("//") + 2) != std::string::npos || v.find_first_of("?#@ ") != std::string::npos)
			bad_option(name, value, "expected scheme, host and port only");
		c.endpoint = v;
	} else if (name == "region") {
		if (value.empty() || value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
			bad_option(name, value, "expected a region name such as us-east-1");
		c.region = value;
	} else if (name == "path_style") {
		c.path_style = parse_bool(name, value);
	} else if (name == "ca_file") {
		c.ca_file = value;
	} else if (name == "verify_tls") {
		c.verify_tls = parse_bool(name, value);
	} else if (name == "verify_etag") {
		c.verify_etag = parse_bool(name, value);
	} else if (name == "storage_class") {
		if (value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != std::string::npos)
			bad_option(name, value, "expected a storage class such as STANDARD_IA");
		c.storage_class = value;
	} else if (name == "part_size") {
		uint64_t size = parse_uint(name, value, std::numeric_limits<uint64_t>::max());
		if (size < kS3MinPartSize || size > kS3MaxPartSize)
			bad_option(name, value, "expected a size " + kPartSizeLimits);
		c.part_size = size;
	} else if (name == "connect_timeout_ms") {
		c.connect_timeout_ms = static_cast<long>(parse_uint(name, value, max_ms));
	} else if (name == "io_timeout_ms") {
		c.io_timeout_ms = static_cast<long>(parse_uint(name, value, max_ms));
	} else if (name == "max_retries") {
		c.max_retries = static_cast<int>(parse_uint(name, value, 100));
	} else if (name == "retry_base_delay_ms") {
		c.retry_base_delay_ms = static_cast<long>(parse_uint(name, value, 600000));
	} else if (name == "retry_max_delay_ms") {
		c.retry_max_delay_ms = static_cast<long>(parse_uint(name, value, 600000));
	} else if (name == "list_page_size") {
		c.list_page_size = static_cast<int>(parse_uint(name, value, 1000));
		if (c.list_page_size < 1)
			bad_option(name, value, "at least 1");
	} else {
		throw Error(ErrorKind::InvalidInput, "unknown S3 option \"" + name + "\"");
	}
}

void check_s3_config(const S3Config &c) {
	check_bucket(c.bucket);
	if (c.part_size < kS3MinPartSize || c.part_size > kS3MaxPartSize)
		throw Error(ErrorKind::InvalidInput, "S3 part_size must be " + kPartSizeLimits);
	if (c.credentials.access_key_id.empty() || c.credentials.secret_access_key.empty())
		throw Error(ErrorKind::InvalidInput,
		            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or give a credentials file");
	if (c.list_page_size < 1 || c.list_page_size > 1000)
		throw Error(ErrorKind::InvalidInput, "S3 list_page_size must be between 1 and 1000");
	if (c.io_timeout_ms < 1000)
		throw Error(ErrorKind::InvalidInput, "S3 io_timeout_ms must be at least 1000");
}

std::string s3_endpoint(const S3Config &c) {
	return c.endpoint.empty() ? "https://s3." + c.region + ".amazonaws.com" : c.endpoint;
}

} // namespace tb
