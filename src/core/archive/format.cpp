#include "core/archive/format.hpp"

#include "core/archive/bytes.hpp"
#include "core/crypto/chunk_cipher.hpp"
#include "core/error.hpp"

#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::archive {

std::string FileHeader::serialize() const {
	std::string s(kMagic, sizeof(kMagic));
	put_u16(s, version);
	put_u16(s, flags);
	put_u32(s, chunk_size);
	put_u64(s, backup_id);
	put_u32(s, key_generation);
	s.append(reinterpret_cast<const char *>(base_nonce.data()), base_nonce.size());
	s.resize(kFileHeaderSize, '\0');
	return s;
}

FileHeader FileHeader::parse(const uint8_t *b) {
	if (std::memcmp(b, kMagic, sizeof(kMagic)) != 0)
		throw Error(ErrorKind::Corrupt, "not a tenant_backup archive (bad magic bytes)");
	FileHeader h;
	h.version = static_cast<uint16_t>(get_le(b + 8, 2));
	h.flags = static_cast<uint16_t>(get_le(b + 10, 2));
	h.chunk_size = static_cast<uint32_t>(get_le(b + 12, 4));
	h.backup_id = get_le(b + 16, 8);
	h.key_generation = static_cast<uint32_t>(get_le(b + 24, 4));
	std::memcpy(h.base_nonce.data(), b + 28, h.base_nonce.size());
	if (h.version < kOldestFormatVersion || h.version > kFormatVersion)
		throw Error(ErrorKind::Corrupt, "unsupported archive format version " + std::to_string(h.version));
	if (h.flags & ~(kFlagZstd | kFlagEncrypted))
		throw Error(ErrorKind::Corrupt, "archive uses unknown features (flags " + std::to_string(h.flags) + ")");
	if (h.chunk_size == 0 || h.chunk_size > crypto::kMaxChunkSize)
		throw Error(ErrorKind::Corrupt, "archive header is damaged: chunk size " + std::to_string(h.chunk_size));
	for (size_t i = 40; i < kFileHeaderSize; i++)
		if (b[i] != 0)
			throw Error(ErrorKind::Corrupt, "archive header is damaged: reserved bytes are set");
	if (h.encrypted() != (h.key_generation != 0))
		throw Error(ErrorKind::Corrupt, "archive header is damaged: key generation does not match its flags");
	return h;
}

} // namespace tb::archive
