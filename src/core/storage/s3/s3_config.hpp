// Where an S3 repository is and how to talk to it: "s3://bucket/prefix" plus named options.
#pragma once
#include <cstdint>
#include <string>

namespace tb {

struct S3Credentials {
	std::string access_key_id;
	std::string secret_access_key;
	std::string session_token; // temporary credentials only
};

struct S3Config {
	std::string bucket;
	std::string prefix;   // key prefix of every object, without leading or trailing '/'; may be empty
	std::string endpoint; // "https://host[:port]"; empty: https://s3.<region>.amazonaws.com
	std::string region = "us-east-1";
	bool path_style = false; // http://host/bucket/key instead of http://bucket.host/key
	std::string ca_file;     // PEM bundle; empty: the system's
	bool verify_tls = true;
	bool verify_etag = true;   // false for SSE-KMS/SSE-C buckets, whose ETags are not MD5s
	std::string storage_class; // empty: the bucket's default
	uint64_t part_size = 16 << 20;
	S3Credentials credentials;
	long connect_timeout_ms = 10000;
	long io_timeout_ms = 60000; // no byte moving for this long fails the attempt
	int max_retries = 4;
	long retry_base_delay_ms = 200;
	long retry_max_delay_ms = 5000;
	int list_page_size = 1000; // max-keys; small values only to test pagination
};

constexpr uint64_t kS3MinPartSize = 5 << 20; // S3's minimum for all parts but the last
// Ours, far below S3's 5 GiB: each upload holds one part in memory. 10000 parts of it still make
// 5 TiB, S3's largest object.
constexpr uint64_t kS3MaxPartSize = 512 << 20;

// Bucket and prefix of "s3://bucket[/prefix]"; the other fields keep their defaults.
S3Config parse_s3_url(const std::string &url);

// Sets one option by name (endpoint, region, path_style, ca_file, verify_tls, verify_etag,
// storage_class, part_size, connect_timeout_ms, io_timeout_ms, max_retries, retry_base_delay_ms,
// retry_max_delay_ms, list_page_size). Booleans: true/false/on/off/1/0. Sizes and times: a
// non-negative integer. Throws InvalidInput naming the option.
void set_s3_option(S3Config &config, const std::string &name, const std::string &value);

// Throws InvalidInput unless the configuration can be used (credentials present, part size in
// range, endpoint http(s)).
void check_s3_config(const S3Config &config);

// The endpoint requests go to: config.endpoint, or AWS's for the region.
std::string s3_endpoint(const S3Config &config);

} // namespace tb
