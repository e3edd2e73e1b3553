// Where S3 credentials come from: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN) or a file that only its owner can read. Credentials never appear in a
// message.
#pragma once
#include "core/storage/s3/s3_config.hpp"

#include <optional>
#include <string>

namespace tb {

// From the environment; nullopt when AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is unset or empty.
std::optional<S3Credentials> s3_credentials_from_env();

// Parses a credentials file's text. Two layouts:
//   plain lines "access_key_id = ...", "secret_access_key = ...", "session_token = ..."
//   (aws_ prefixed names accepted too), or
//   the AWS CLI's ini layout: the [profile] section's aws_access_key_id, aws_secret_access_key
//   and aws_session_token.
// Blank lines and lines starting with '#' or ';' are ignored. `source` names the file in messages.
S3Credentials parse_s3_credentials(const std::string &text, const std::string &profile, const std::string &source);

// Reads and parses a credentials file. Refuses (InvalidInput) a file that group or others may
// access, as libpq does for .pgpass, and a file that is not a regular file.
S3Credentials load_s3_credentials_file(const std::string &path, const std::string &profile = "default");

} // namespace tb
