// S3's ETags of what we upload, computed on our side so that a finished object can be confirmed:
// a single PUT's ETag is the hex MD5 of the body; a multipart object's is the hex MD5 of its
// parts' binary MD5s, concatenated, followed by "-<number of parts>".
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tb {

using Md5Digest = std::array<uint8_t, 16>;

Md5Digest md5_of(const uint8_t *data, size_t len);
std::string hex_of(const uint8_t *data, size_t len);
// For the Content-MD5 header.
std::string base64_of(const uint8_t *data, size_t len);

std::string single_put_etag(const Md5Digest &body_md5);
std::string multipart_etag(const std::vector<Md5Digest> &part_md5s);

// An ETag header's value without its double quotes.
std::string unquote_etag(const std::string &etag);

} // namespace tb
