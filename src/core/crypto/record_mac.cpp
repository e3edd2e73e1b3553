#include "core/crypto/record_mac.hpp"

#include "core/error.hpp"

#include <memory>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::crypto {

namespace {

[[noreturn]] void failure(const char *what) {
	throw Error(ErrorKind::Internal, std::string("OpenSSL failed: ") + what);
}

std::string hex(const uint8_t *data, size_t len) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (size_t i = 0; i < len; i++) {
		out += digits[data[i] >> 4];
		out += digits[data[i] & 15];
	}
	return out;
}

} // namespace

Key derive_record_key(const Key &master, const std::string &info) {
	std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
	                                                                EVP_PKEY_CTX_free);
	Key out{};
	size_t len = out.size();
	if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), master.data(), static_cast<int>(master.size())) <= 0 ||
	    EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char *>(info.data()),
	                                static_cast<int>(info.size())) <= 0 ||
	    EVP_PKEY_derive(ctx.get(), out.data(), &len) <= 0 || len != out.size())
		failure("HKDF");
	return out;
}

std::string hmac_sha256_hex(const Key &key, const std::string &body) {
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t len = 0;
	if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
	               reinterpret_cast<const unsigned char *>(body.data()), body.size(), mac, sizeof(mac), &len))
		failure("HMAC-SHA256");
	return hex(mac, len);
}

bool hmac_sha256_matches(const Key &key, const std::string &body, const std::string &mac_hex) {
	std::string expected = hmac_sha256_hex(key, body);
	return mac_hex.size() == expected.size() && CRYPTO_memcmp(mac_hex.data(), expected.data(), expected.size()) == 0;
}

} // namespace tb::crypto
