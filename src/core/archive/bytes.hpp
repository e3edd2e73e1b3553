// Little-endian integers and length-prefixed strings for our own framing.
#pragma once
#include <cstdint>
#include <string>

namespace tb::archive {

inline void put_u16(std::string &out, uint16_t v) {
	out.push_back(static_cast<char>(v & 0xff));
	out.push_back(static_cast<char>(v >> 8));
}
inline void put_u32(std::string &out, uint32_t v) {
	for (int i = 0; i < 4; i++)
		out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_u64(std::string &out, uint64_t v) {
	for (int i = 0; i < 8; i++)
		out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_string(std::string &out, const std::string &s) {
	put_u32(out, static_cast<uint32_t>(s.size()));
	out += s;
}
inline uint64_t get_le(const uint8_t *p, int bytes) {
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

// Reads fields from a payload, throwing a Corrupt error on overrun.
class PayloadReader {
public:
	PayloadReader(const std::string &payload, const char *what) : p_(payload), what_(what) {}
	uint32_t u32();
	uint64_t u64();
	std::string string();
	void expect_end();
	bool at_end() const { return pos_ == p_.size(); }

private:
	const uint8_t *take(size_t n);
	const std::string &p_;
	const char *what_;
	size_t pos_ = 0;
};

} // namespace tb::archive
