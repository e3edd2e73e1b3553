// Authentication of repository records: HKDF-SHA256 key derivation and HMAC-SHA256, checked
// against values computed independently (Python's hmac and hashlib, HKDF per RFC 5869 with an
// empty salt), and the failures a tampered record must cause.
#include "core/crypto/record_mac.hpp"

#include <gtest/gtest.h>

namespace {

tb::crypto::Key counting_key() {
	tb::crypto::Key k{};
	for (size_t i = 0; i < k.size(); i++)
		k[i] = static_cast<uint8_t>(i);
	return k;
}

std::string hex(const tb::crypto::Key &k) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (uint8_t b : k) {
		out += digits[b >> 4];
		out += digits[b & 15];
	}
	return out;
}

const char *const kInfo = "tenant_backup repository record v1: backup";

} // namespace

TEST(RecordMac, DerivationMatchesAnIndependentHkdf) {
	EXPECT_EQ(hex(tb::crypto::derive_record_key(counting_key(), kInfo)),
	          "ced360025217d8bfd16128d8eb984c727459bd0defc8e2245c1b36921e76e205");
}

TEST(RecordMac, HmacMatchesAnIndependentHmac) {
	tb::crypto::Key key = tb::crypto::derive_record_key(counting_key(), kInfo);
	EXPECT_EQ(tb::crypto::hmac_sha256_hex(key, "{\"type\": \"backup\"}"),
	          "2752bcc6df33982ad54f9c42a49f0b353122df8f70ec78e976885b36d2536e02");
}

TEST(RecordMac, EachKindOfRecordHasItsOwnKey) {
	EXPECT_NE(tb::crypto::derive_record_key(counting_key(), kInfo),
	          tb::crypto::derive_record_key(counting_key(), "tenant_backup repository record v1: tenant key"));
}

TEST(RecordMac, AnyChangeFailsTheCheck) {
	tb::crypto::Key key = tb::crypto::derive_record_key(counting_key(), kInfo);
	std::string body = "{\"tenant\": \"3\", \"row_count\": 1000}";
	std::string mac = tb::crypto::hmac_sha256_hex(key, body);
	EXPECT_TRUE(tb::crypto::hmac_sha256_matches(key, body, mac));
	EXPECT_FALSE(tb::crypto::hmac_sha256_matches(key, "{\"tenant\": \"1\", \"row_count\": 1000}", mac));
	EXPECT_FALSE(tb::crypto::hmac_sha256_matches(key, "{\"tenant\": \"3\", \"row_count\": 1001}", mac));
	EXPECT_FALSE(tb::crypto::hmac_sha256_matches(key, body, mac.substr(0, 63)));
	std::string flipped = mac;
	flipped[10] = flipped[10] == '0' ? '1' : '0';
	EXPECT_FALSE(tb::crypto::hmac_sha256_matches(key, body, flipped));
	tb::crypto::Key other = counting_key();
	other[0] ^= 1;
	EXPECT_FALSE(tb::crypto::hmac_sha256_matches(tb::crypto::derive_record_key(other, kInfo), body, mac));
}
