// Whole S3 listings under a key prefix, page after page (S3PageCursor refuses a listing that
// would never end): objects (ListObjectsV2) and incomplete multipart uploads
// (ListMultipartUploads). Keys are full keys, in the server's order.
#pragma once
#include "core/storage/s3/s3_client.hpp"
#include "core/storage/s3/s3_xml.hpp"

#include <string>
#include <vector>

namespace tb {

// Pages of config().list_page_size keys.
std::vector<S3ListedObject> s3_list_objects(S3Client &client, const std::string &key_prefix);
std::vector<S3ListedUpload> s3_list_uploads(S3Client &client, const std::string &key_prefix);

} // namespace tb
