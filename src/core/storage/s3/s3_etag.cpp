#include "core/storage/s3/s3_etag.hpp"

#include "core/error.hpp"

#include <openssl/evp.h>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

Md5Digest md5_of(const uint8_t *data, size_t len) {
	Md5Digest out{};
	unsigned int out_len = 0;
	// One-shot EVP digest: MD5 here is S3's checksum of a part, not a security measure.
	if (EVP_Digest(data, len, out.data(), &out_len, EVP_md5(), nullptr) != 1 || out_len != out.size())
		throw Error(ErrorKind::Internal, "OpenSSL could not compute an MD5 digest");
	return out;
}

std::string hex_of(const uint8_t *data, size_t len) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	out.reserve(len * 2);
	for (size_t i = 0; i < len; i++) {
		out.push_back(digits[data[i] >> 4]);
		out.push_back(digits[data[i] & 0xf]);
	}
	return out;
}

std::string base64_of(const uint8_t *data, size_t len) {
	std::string out(4 * ((len + 2) / 3) + 1, '\0');
	int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(&out[0]), data, static_cast<int>(len));
	out.resize(static_cast<size_t>(n));
	return out;
}

std::string single_put_etag(const Md5Digest &body_md5) {
	return hex_of(body_md5.data(), body_md5.size());
}

std::string multipart_etag(const std::vector<Md5Digest> &part_md5s) {
	std::string concatenated;
	for (const auto &d : part_md5s)
		concatenated.append(reinterpret_cast<const char *>(d.data()), d.size());
	Md5Digest d = md5_of(reinterpret_cast<const uint8_t *>(concatenated.data()), concatenated.size());
	return hex_of(d.data(), d.size()) + "-" + std::to_string(part_md5s.size());
}

std::string unquote_etag(const std::string &etag) {
	if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
		return etag.substr(1, etag.size() - 2);
	return etag;
}

} // namespace tb
