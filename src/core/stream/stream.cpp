#include "core/cpp_only.hpp"
#include "core/stream/stream.hpp"

namespace tb {

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
