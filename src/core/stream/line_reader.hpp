// Splits a byte stream into lines, for reading back a document that was written one line per
// row (the JSON download). Holds one line and one read buffer, whatever the stream's size.
#pragma once
#include "core/stream/stream.hpp"

#include <string>
#include <vector>

namespace tb {

class LineReader {
public:
	// Lines longer than max_line bytes (without their "\n") are refused with InvalidInput.
	LineReader(Source &in, size_t max_line);
	// The next line, without its "\n", into `line`; false at the end of the stream. A last line
	// that lacks its "\n" is returned too: a final empty line is not.
	bool next(std::string &line);
	// 1-based number of the line last returned.
	uint64_t line_number() const { return line_number_; }

private:
	bool fill();
	Source &in_;
	size_t max_line_;
	std::vector<uint8_t> buf_;
	size_t pos_ = 0, len_ = 0;
	bool eof_ = false;
	uint64_t line_number_ = 0;
};

} // namespace tb
