// Writing one S3 object as a stream: a multipart upload, one part buffered at a time.
//   write()   fills the part buffer; each full part (part_size) is uploaded, the multipart upload
//             being created with the first one.
//   finish()  uploads the last part. An object smaller than one part is held until publish().
//   publish() completes the upload (or PUTs the small object), then confirms it: a HEAD must show
//             the size written and the ETag computed from our own MD5s. Only now is it visible.
//   destroyed unpublished: the multipart upload is aborted, so no parts are left behind.
#pragma once
#include "core/storage/s3/s3_config.hpp"
#include "core/storage/storage.hpp"

#include <memory>

namespace tb {

std::unique_ptr<WriteObject> open_s3_write(std::shared_ptr<const S3Config> config, const std::string &name,
                                           const std::string &key);

} // namespace tb
