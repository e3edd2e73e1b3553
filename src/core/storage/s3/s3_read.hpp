// Reading one S3 object as a stream: a GET from the offset on, pulled as the reader asks (see
// HttpStream). A connection that fails mid-body is resumed with a Range request from the bytes
// already delivered, with If-Match on the first answer's ETag so that a replaced object is an
// error rather than a splice of two versions.
#pragma once
#include "core/storage/s3/s3_config.hpp"
#include "core/stream/stream.hpp"

#include <memory>
#include <string>

namespace tb {

// Sends the GET at once: a missing object throws ErrorKind::NotFound here.
std::unique_ptr<Source> open_s3_read(std::shared_ptr<const S3Config> config, const std::string &key, uint64_t offset);

} // namespace tb
