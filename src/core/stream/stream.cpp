#include "core/stream/stream.hpp"

#include <algorithm>
#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

size_t BytesSource::read(uint8_t *buf, size_t cap) {
	size_t n = std::min(cap, len_ - pos_);
	std::memcpy(buf, data_ + pos_, n);
	pos_ += n;
	return n;
}

bool read_exact(Source &source, uint8_t *buf, size_t len) {
	size_t done = 0;
	while (done < len) {
		size_t n = source.read(buf + done, len - done);
		if (n == 0)
			return false;
		done += n;
	}
	return true;
}

} // namespace tb
