#include "core/stream/sha256.hpp"

#include "core/error.hpp"

#include <openssl/evp.h>
#include <vector>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

struct Sha256::Impl {
	EVP_MD_CTX *ctx = nullptr;
	~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
	impl_->ctx = EVP_MD_CTX_new();
	if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
		throw Error(ErrorKind::Internal, "could not initialize SHA-256");
}

Sha256::~Sha256() = default;

void Sha256::update(const uint8_t *data, size_t len) {
	if (len && EVP_DigestUpdate(impl_->ctx, data, len) != 1)
		throw Error(ErrorKind::Internal, "SHA-256 update failed");
}

std::array<uint8_t, 32> Sha256::digest() {
	std::array<uint8_t, 32> md;
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(impl_->ctx, md.data(), &len) != 1 || len != md.size())
		throw Error(ErrorKind::Internal, "SHA-256 finalization failed");
	return md;
}

std::string Sha256::hex_digest() {
	std::array<uint8_t, 32> md = digest();
	static const char digits[] = "0123456789abcdef";
	std::string hex;
	hex.reserve(md.size() * 2);
	for (size_t i = 0; i < md.size(); i++) {
		hex.push_back(digits[md[i] >> 4]);
		hex.push_back(digits[md[i] & 0xf]);
	}
	return hex;
}

void HashingSink::write(const uint8_t *data, size_t len) {
	hash_.update(data, len);
	bytes_ += len;
	next_.write(data, len);
}

void HashingSink::finish() {
	next_.finish();
}

std::string sha256_of(Source &source, uint64_t *length) {
	Sha256 hash;
	std::vector<uint8_t> buf(1 << 20);
	uint64_t total = 0;
	for (size_t n; (n = source.read(buf.data(), buf.size())) > 0;) {
		hash.update(buf.data(), n);
		total += n;
	}
	if (length)
		*length = total;
	return hash.hex_digest();
}

} // namespace tb
