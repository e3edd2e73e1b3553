#include "core/crypto/chunk_cipher.hpp"

#include "core/error.hpp"
#include "core/stream/sha256.hpp"

#include <cstring>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::crypto {

namespace {

struct CipherCtx {
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

[[noreturn]] void openssl_failure(const char *what) {
	throw Error(ErrorKind::Internal, std::string("OpenSSL ") + what + " failed");
}

Nonce chunk_nonce(const Nonce &base, uint64_t index) {
	Nonce n = base;
	for (int i = 0; i < 8; i++)
		n[kNonceSize - 1 - i] ^= static_cast<uint8_t>(index >> (8 * i));
	return n;
}

std::string chunk_aad(const std::string &context, uint64_t index, uint8_t flags) {
	std::string aad = context;
	for (int i = 0; i < 8; i++)
		aad.push_back(static_cast<char>((index >> (8 * i)) & 0xff));
	aad.push_back(static_cast<char>(flags));
	return aad;
}

// AES-256-GCM in one call; out receives ciphertext and fills tag.
void gcm_seal(EVP_CIPHER_CTX *ctx, const Key &key, const Nonce &nonce, const std::string &aad, const uint8_t *in,
              size_t len, uint8_t *out, uint8_t *tag) {
	int n = 0;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1)
		openssl_failure("encrypt init");
	if (EVP_EncryptUpdate(ctx, nullptr, &n, reinterpret_cast<const uint8_t *>(aad.data()),
	                      static_cast<int>(aad.size())) != 1)
		openssl_failure("encrypt aad");
	if (len && EVP_EncryptUpdate(ctx, out, &n, in, static_cast<int>(len)) != 1)
		openssl_failure("encrypt");
	if (EVP_EncryptFinal_ex(ctx, out + n, &n) != 1)
		openssl_failure("encrypt final");
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1)
		openssl_failure("get tag");
}

bool gcm_open(EVP_CIPHER_CTX *ctx, const Key &key, const Nonce &nonce, const std::string &aad, const uint8_t *in,
              size_t len, const uint8_t *tag, uint8_t *out) {
	int n = 0;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1)
		openssl_failure("decrypt init");
	if (EVP_DecryptUpdate(ctx, nullptr, &n, reinterpret_cast<const uint8_t *>(aad.data()),
	                      static_cast<int>(aad.size())) != 1)
		openssl_failure("decrypt aad");
	if (len && EVP_DecryptUpdate(ctx, out, &n, in, static_cast<int>(len)) != 1)
		openssl_failure("decrypt");
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, const_cast<uint8_t *>(tag)) != 1)
		openssl_failure("set tag");
	return EVP_DecryptFinal_ex(ctx, out + n, &n) == 1;
}

// Integrity tag of an unencrypted chunk.
void digest_tag(const std::string &aad, const uint8_t *data, size_t len, uint8_t *tag) {
	Sha256 h;
	h.update(reinterpret_cast<const uint8_t *>(aad.data()), aad.size());
	h.update(data, len);
	std::memcpy(tag, h.digest().data(), kTagSize);
}

void put_u32(uint8_t *p, uint32_t v) {
	for (int i = 0; i < 4; i++)
		p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace

struct ChunkSealSink::Impl {
	CipherCtx cipher;
};

ChunkSealSink::ChunkSealSink(Sink &next, ChunkParams params)
    : impl_(std::make_unique<Impl>()), next_(next), params_(std::move(params)), index_(params_.first_index) {
	if (params_.chunk_size == 0 || params_.chunk_size > kMaxChunkSize)
		throw Error(ErrorKind::InvalidInput, "chunk size must be between 1 byte and 16 MiB");
	if (!impl_->cipher.ctx)
		openssl_failure("cipher context allocation");
	plain_.reserve(params_.chunk_size);
}

ChunkSealSink::~ChunkSealSink() = default;

void ChunkSealSink::seal(bool final) {
	uint8_t flags = final ? kChunkFinal : 0;
	size_t len = plain_.size();
	sealed_.resize(kChunkHeaderSize + len + kTagSize);
	sealed_[0] = flags;
	put_u32(sealed_.data() + 1, static_cast<uint32_t>(len));
	std::string aad = chunk_aad(params_.context, index_, flags);
	uint8_t *body = sealed_.data() + kChunkHeaderSize;
	if (params_.key) {
		gcm_seal(impl_->cipher.ctx, *params_.key, chunk_nonce(params_.base_nonce, index_), aad, plain_.data(), len,
		         body, body + len);
	} else {
		std::memcpy(body, plain_.data(), len);
		digest_tag(aad, plain_.data(), len, body + len);
	}
	next_.write(sealed_.data(), sealed_.size());
	plain_.clear();
	index_++;
}

void ChunkSealSink::write(const uint8_t *data, size_t len) {
	while (len > 0) {
		size_t take = std::min(len, params_.chunk_size - plain_.size());
		plain_.insert(plain_.end(), data, data + take);
		data += take;
		len -= take;
		if (plain_.size() == params_.chunk_size)
			seal(false);
	}
}

void ChunkSealSink::boundary() {
	if (!plain_.empty())
		seal(false);
	next_.boundary();
}

void ChunkSealSink::finish() {
	seal(true);
	next_.finish();
}

struct ChunkOpenSource::Impl {
	CipherCtx cipher;
};

ChunkOpenSource::ChunkOpenSource(Source &in, ChunkParams params)
    : impl_(std::make_unique<Impl>()), in_(in), params_(std::move(params)), index_(params_.first_index) {
	if (!impl_->cipher.ctx)
		openssl_failure("cipher context allocation");
}

ChunkOpenSource::~ChunkOpenSource() = default;

bool ChunkOpenSource::open_next() {
	if (final_seen_)
		return false; // what follows the final chunk (the footer) is not ours to read
	uint64_t start = consumed_;
	uint8_t head[kChunkHeaderSize];
	if (in_.read(head, 1) == 0)
		throw Error(ErrorKind::Corrupt,
		            "archive is truncated: it ends before its final chunk (chunk " + std::to_string(index_) + ")");
	std::string where = " (chunk " + std::to_string(index_) + ")";
	if (!read_exact(in_, head + 1, kChunkHeaderSize - 1))
		throw Error(ErrorKind::Corrupt, "archive is truncated inside a chunk header" + where);
	uint8_t flags = head[0];
	uint32_t len = uint32_t(head[1]) | uint32_t(head[2]) << 8 | uint32_t(head[3]) << 16 | uint32_t(head[4]) << 24;
	if ((flags & ~kChunkFinal) != 0 || len > kMaxChunkSize)
		throw Error(ErrorKind::Corrupt, "archive is damaged: invalid chunk header" + where);
	sealed_.resize(len + kTagSize);
	if (!read_exact(in_, sealed_.data(), sealed_.size()))
		throw Error(ErrorKind::Corrupt, "archive is truncated inside a chunk" + where);
	std::string aad = chunk_aad(params_.context, index_, flags);
	plain_.resize(len);
	const uint8_t *tag = sealed_.data() + len;
	bool ok;
	if (params_.key) {
		ok = gcm_open(impl_->cipher.ctx, *params_.key, chunk_nonce(params_.base_nonce, index_), aad, sealed_.data(),
		              len, tag, plain_.data());
	} else {
		uint8_t expect[kTagSize];
		digest_tag(aad, sealed_.data(), len, expect);
		ok = std::memcmp(expect, tag, kTagSize) == 0;
		if (ok && len) // an empty chunk's buffer may be null, which memcpy must not get
			std::memcpy(plain_.data(), sealed_.data(), len);
	}
	if (!ok)
		throw Error(ErrorKind::Corrupt,
		            std::string("archive failed authentication") + where +
		                (params_.key ? ": it was altered, belongs to another backup, or the key is wrong"
		                             : ": it was altered or belongs to another backup"));
	pos_ = 0;
	consumed_ += kChunkHeaderSize + sealed_.size();
	current_start_ = start;
	if (remember_ && starts_.size() < 64) // the chunk sought is among the first few
		starts_.push_back({index_, start});
	index_++;
	final_seen_ = flags & kChunkFinal;
	return true;
}

void ChunkOpenSource::remember_chunk_starts(bool on) {
	starts_.clear();
	remember_ = on;
	if (on && index_ > params_.first_index)
		starts_.push_back({index_ - 1, current_start_});
}

std::optional<uint64_t> ChunkOpenSource::chunk_start(uint64_t index) const {
	for (const auto &s : starts_)
		if (s.first == index)
			return s.second;
	return std::nullopt;
}

size_t ChunkOpenSource::read(uint8_t *buf, size_t cap) {
	while (pos_ == plain_.size()) {
		if (!open_next())
			return 0;
	}
	size_t n = std::min(cap, plain_.size() - pos_);
	std::memcpy(buf, plain_.data() + pos_, n);
	pos_ += n;
	return n;
}

void random_bytes(uint8_t *out, size_t len) {
	if (RAND_bytes(out, static_cast<int>(len)) != 1)
		openssl_failure("RAND_bytes");
}

std::vector<uint8_t> wrap_key(const Key &master, const Key &data_key, const std::string &context) {
	Nonce nonce;
	random_bytes(nonce.data(), nonce.size());
	std::vector<uint8_t> out(kNonceSize + kKeySize + kTagSize);
	std::memcpy(out.data(), nonce.data(), kNonceSize);
	CipherCtx c;
	gcm_seal(c.ctx, master, nonce, "tenant_backup key wrap\n" + context, data_key.data(), kKeySize,
	         out.data() + kNonceSize, out.data() + kNonceSize + kKeySize);
	return out;
}

Key unwrap_key(const Key &master, const std::vector<uint8_t> &wrapped, const std::string &context) {
	if (wrapped.size() != kNonceSize + kKeySize + kTagSize)
		throw Error(ErrorKind::Corrupt, "wrapped key has the wrong length");
	Nonce nonce;
	std::memcpy(nonce.data(), wrapped.data(), kNonceSize);
	Key key;
	CipherCtx c;
	if (!gcm_open(c.ctx, master, nonce, "tenant_backup key wrap\n" + context, wrapped.data() + kNonceSize, kKeySize,
	              wrapped.data() + kNonceSize + kKeySize, key.data()))
		throw Error(ErrorKind::InvalidInput, "the data key cannot be unwrapped: wrong master key");
	return key;
}

Key parse_hex_key(const std::string &text, const std::string &origin) {
	std::string hex;
	for (char c : text)
		if (!std::isspace(static_cast<unsigned char>(c)))
			hex.push_back(c);
	if (hex.size() != 2 * kKeySize)
		throw Error(ErrorKind::InvalidInput, origin + " must hold 64 hexadecimal characters (32 bytes)");
	Key key;
	for (size_t i = 0; i < kKeySize; i++) {
		auto nibble = [&](char c) -> int {
			if (c >= '0' && c <= '9')
				return c - '0';
			if (c >= 'a' && c <= 'f')
				return c - 'a' + 10;
			if (c >= 'A' && c <= 'F')
				return c - 'A' + 10;
			throw Error(ErrorKind::InvalidInput, origin + " contains a character that is not hexadecimal");
		};
		key[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
	}
	return key;
}

std::string key_id(const Key &key) {
	Sha256 h;
	static const char label[] = "tenant_backup key id";
	h.update(reinterpret_cast<const uint8_t *>(label), sizeof(label) - 1);
	h.update(key.data(), key.size());
	return h.hex_digest().substr(0, 16);
}

} // namespace tb::crypto
