#include "core/stream/line_reader.hpp"

#include "core/error.hpp"

#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {
constexpr size_t kReadBytes = 64 * 1024;
}

LineReader::LineReader(Source &in, size_t max_line) : in_(in), max_line_(max_line), buf_(kReadBytes) {}

bool LineReader::fill() {
	if (eof_)
		return false;
	len_ = in_.read(buf_.data(), buf_.size());
	pos_ = 0;
	eof_ = len_ == 0;
	return !eof_;
}

bool LineReader::next(std::string &line) {
	line.clear();
	bool any = false; // a byte of this line was seen (even if the line is empty, its "\n" was)
	for (;;) {
		if (pos_ == len_ && !fill())
			break;
		any = true;
		const uint8_t *start = buf_.data() + pos_;
		const void *nl = std::memchr(start, '\n', len_ - pos_);
		size_t take = nl ? static_cast<const uint8_t *>(nl) - start : len_ - pos_;
		if (line.size() + take > max_line_)
			throw Error(ErrorKind::InvalidInput, "line " + std::to_string(line_number_ + 1) + " is longer than " +
			                                         std::to_string(max_line_) + " bytes");
		line.append(reinterpret_cast<const char *>(start), take);
		pos_ += take;
		if (nl) {
			pos_++; // the "\n"
			line_number_++;
			return true;
		}
	}
	if (!any)
		return false;
	line_number_++;
	return true;
}

} // namespace tb
