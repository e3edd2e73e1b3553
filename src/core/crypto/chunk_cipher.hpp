// Chunked authenticated encryption of a byte stream with AES-256-GCM (OpenSSL EVP).
//
//   chunk := flags:u8 length:u32le data[length] tag[16]
//
// Each chunk is sealed with nonce = base_nonce XOR chunk index (in the last 8 bytes) and associated
// data = context || index:u64le || flags, so a flipped bit, a dropped, repeated or reordered chunk,
// a missing final chunk (truncation) or a chunk from another archive (other context) fails to open.
// Without a key the same framing is used with tag = first 16 bytes of SHA-256(aad || data): it
// detects damage, not tampering (the catalog's SHA-256 of the whole file does that).
#pragma once
#include "core/stream/stream.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tb::crypto {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kChunkHeaderSize = 5;
constexpr uint8_t kChunkFinal = 1;
constexpr uint32_t kMaxChunkSize = 16u << 20;

using Key = std::array<uint8_t, kKeySize>;
using Nonce = std::array<uint8_t, kNonceSize>;

struct ChunkParams {
	std::optional<Key> key; // no key: integrity-only framing
	Nonce base_nonce{};     // random per archive; stored in the archive header
	std::string context;    // associated data binding chunks to one archive (header, backup, tenant)
	uint32_t chunk_size = 1u << 20;
	uint64_t first_index = 0; // index of the first chunk (non-zero when reading from the middle)
};

// Seals a stream into chunks. boundary() closes the current chunk early, so that what follows
// starts in a fresh chunk (a table section can then be read on its own). finish() writes the
// final chunk (possibly empty).
class ChunkSealSink : public Sink {
public:
	ChunkSealSink(Sink &next, ChunkParams params);
	~ChunkSealSink() override;
	void write(const uint8_t *data, size_t len) override;
	void finish() override;
	void boundary() override;
	uint64_t next_index() const { return index_; }

private:
	void seal(bool final);
	struct Impl;
	std::unique_ptr<Impl> impl_;
	Sink &next_;
	ChunkParams params_;
	std::vector<uint8_t> plain_, sealed_;
	uint64_t index_;
};

// Opens chunks; throws Corrupt naming the chunk index on any failure. Reads nothing after the
// final chunk (the archive's footer follows it).
class ChunkOpenSource : public Source {
public:
	ChunkOpenSource(Source &in, ChunkParams params);
	~ChunkOpenSource() override;
	size_t read(uint8_t *buf, size_t cap) override;
	uint64_t chunk_index() const { return index_; }
	// For checking a footer that points at a chunk: while on, remembers where the current chunk
	// and the next chunks opened start (as bytes read from `in` before them).
	void remember_chunk_starts(bool on);
	// Where chunk `index` starts, if it was remembered.
	std::optional<uint64_t> chunk_start(uint64_t index) const;

private:
	bool open_next();
	struct Impl;
	std::unique_ptr<Impl> impl_;
	Source &in_;
	ChunkParams params_;
	std::vector<uint8_t> sealed_, plain_;
	size_t pos_ = 0;
	uint64_t index_;
	bool final_seen_ = false;
	uint64_t consumed_ = 0, current_start_ = 0;
	bool remember_ = false;
	std::vector<std::pair<uint64_t, uint64_t>> starts_; // (chunk index, start)
};

// Random bytes from OpenSSL's CSPRNG.
void random_bytes(uint8_t *out, size_t len);

// Wraps (encrypts and authenticates) a 32-byte data key under a master key: nonce || ct || tag.
std::vector<uint8_t> wrap_key(const Key &master, const Key &data_key, const std::string &context);
// Unwraps; throws ErrorKind::InvalidInput ("wrong master key") if authentication fails.
Key unwrap_key(const Key &master, const std::vector<uint8_t> &wrapped, const std::string &context);

// Parses 64 hex characters (surrounding whitespace allowed) into a key.
Key parse_hex_key(const std::string &text, const std::string &origin);
// A short, non-secret identifier of a key: hex of the first 8 bytes of SHA-256("tenant_backup key id" || key).
std::string key_id(const Key &key);

} // namespace tb::crypto
