// SHA-256 through OpenSSL EVP, as a streaming hasher and as a pass-through Sink stage.
#pragma once
#include "core/stream/stream.hpp"

#include <array>
#include <memory>
#include <string>

namespace tb {

class Sha256 {
public:
	Sha256();
	~Sha256();
	Sha256(const Sha256 &) = delete;
	Sha256 &operator=(const Sha256 &) = delete;
	void update(const uint8_t *data, size_t len);
	// The 32-byte digest; the hasher cannot be updated afterwards.
	std::array<uint8_t, 32> digest();
	// Lowercase hex digest; the hasher cannot be updated afterwards.
	std::string hex_digest();

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

// Hashes and counts every byte on its way to the next stage: placed last before storage, it
// yields the checksum and size of exactly the bytes stored.
class HashingSink : public Sink {
public:
	explicit HashingSink(Sink &next) : next_(next) {}
	void write(const uint8_t *data, size_t len) override;
	void finish() override;
	void boundary() override { next_.boundary(); }
	std::string hex_digest() { return hash_.hex_digest(); }
	uint64_t bytes() const { return bytes_; }

private:
	Sink &next_;
	Sha256 hash_;
	uint64_t bytes_ = 0;
};

// Reads a source to its end and returns its SHA-256 and length.
std::string sha256_of(Source &source, uint64_t *length = nullptr);

} // namespace tb
