#include "core/archive/bytes.hpp"

#include "core/error.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::archive {

const uint8_t *PayloadReader::take(size_t n) {
	if (p_.size() - pos_ < n)
		throw Error(ErrorKind::Corrupt, std::string("archive is damaged: ") + what_ + " record is too short");
	const uint8_t *at = reinterpret_cast<const uint8_t *>(p_.data()) + pos_;
	pos_ += n;
	return at;
}

uint32_t PayloadReader::u32() {
	return static_cast<uint32_t>(get_le(take(4), 4));
}
uint64_t PayloadReader::u64() {
	return get_le(take(8), 8);
}

std::string PayloadReader::string() {
	uint32_t len = u32();
	const uint8_t *at = take(len);
	return std::string(reinterpret_cast<const char *>(at), len);
}

void PayloadReader::expect_end() {
	if (pos_ != p_.size())
		throw Error(ErrorKind::Corrupt, std::string("archive is damaged: ") + what_ + " record has trailing bytes");
}

} // namespace tb::archive
