// Authentication of the records a repository holds about itself (docs/FORMAT.md "Repository
// records"): an HMAC-SHA256 of a record's exact bytes under a key derived from a master key with
// HKDF-SHA256, so that only a holder of the master key can write a record attach accepts.
#pragma once
#include "core/crypto/chunk_cipher.hpp"

#include <string>

namespace tb::crypto {

// The record-authentication key of a master key: HKDF-SHA256(master, salt "", info). One info
// string per kind of record, so a MAC of one kind never passes for another.
Key derive_record_key(const Key &master, const std::string &info);

// HMAC-SHA256 of `body` under `key`, as 64 lower-case hex digits.
std::string hmac_sha256_hex(const Key &key, const std::string &body);

// Whether `mac_hex` is the HMAC of `body` under `key` (compared in constant time).
bool hmac_sha256_matches(const Key &key, const std::string &body, const std::string &mac_hex);

} // namespace tb::crypto
