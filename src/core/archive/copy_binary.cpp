#include "core/cpp_only.hpp"
#include "core/archive/copy_binary.hpp"

#include "core/error.hpp"

#include <cstring>

namespace tb::archive {

namespace {

// "PGCOPY\n\377\r\n\0", int32 flags = 0, int32 header extension length = 0.
const std::string kCopyHeader("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
const std::string kCopyTrailer("\xff\xff", 2);
constexpr size_t kFieldStep = 1 << 20;

uint32_t get_be32(const uint8_t *p) {
	return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
void put_be16(std::string &out, uint16_t v) {
	out.push_back(static_cast<char>(v >> 8));
	out.push_back(static_cast<char>(v & 0xff));
}

} // namespace

size_t CopyBinaryFrame::emit(const std::string &bytes, uint8_t *buf, size_t cap) {
	size_t n = std::min(cap, bytes.size() - pos_);
	std::memcpy(buf, bytes.data() + pos_, n);
	pos_ += n;
	return n;
}

size_t CopyBinaryFrame::read(uint8_t *buf, size_t cap) {
	while (cap > 0) {
		switch (phase_) {
		case Phase::Header:
			if (pos_ < kCopyHeader.size())
				return emit(kCopyHeader, buf, cap);
			phase_ = Phase::Tuples;
			pos_ = 0;
			break;
		case Phase::Tuples:
			if (size_t n = tuples_.read(buf, cap))
				return n;
			phase_ = Phase::Trailer;
			break;
		case Phase::Trailer:
			if (pos_ < kCopyTrailer.size())
				return emit(kCopyTrailer, buf, cap);
			phase_ = Phase::Done;
			break;
		case Phase::Done:
			return 0;
		}
	}
	return 0;
}

TupleFieldFilter::TupleFieldFilter(Source &tuples, std::vector<bool> keep) : in_(tuples), keep_(std::move(keep)) {
	for (bool k : keep_)
		kept_ += k;
}

void TupleFieldFilter::need(uint8_t *dst, size_t len) {
	if (!read_exact(in_, dst, len))
		throw Error(ErrorKind::Corrupt, "archive is damaged: a row ends in the middle");
}

bool TupleFieldFilter::next_tuple() {
	uint8_t head[2];
	size_t got = in_.read(head, 1);
	if (got == 0)
		return false;
	need(head + 1, 1);
	size_t fields = (size_t(head[0]) << 8) | head[1];
	if (fields != keep_.size())
		throw Error(ErrorKind::Corrupt, "archive is damaged: a row has " + std::to_string(fields) +
		                                    " fields where its table has " + std::to_string(keep_.size()));
	out_.clear();
	out_pos_ = 0;
	put_be16(out_, static_cast<uint16_t>(kept_));
	for (size_t i = 0; i < fields; i++) {
		uint8_t lenbuf[4];
		need(lenbuf, 4);
		int32_t len = static_cast<int32_t>(get_be32(lenbuf));
		if (len < -1)
			throw Error(ErrorKind::Corrupt, "archive is damaged: negative field length");
		if (keep_[i])
			out_.append(reinterpret_cast<const char *>(lenbuf), 4);
		// Read the value in bounded steps: a damaged length may claim up to 2 GiB, and the buffer
		// must only grow with bytes that really arrive.
		for (size_t left = len > 0 ? static_cast<size_t>(len) : 0; left > 0;) {
			size_t step = std::min(left, kFieldStep);
			size_t at = out_.size();
			out_.resize(at + step);
			need(reinterpret_cast<uint8_t *>(out_.data()) + at, step);
			if (!keep_[i])
				out_.resize(at);
			left -= step;
		}
	}
	return true;
}

size_t TupleFieldFilter::read(uint8_t *buf, size_t cap) {
	if (out_pos_ == out_.size()) {
		if (done_ || !next_tuple()) {
			done_ = true;
			return 0;
		}
	}
	size_t n = std::min(cap, out_.size() - out_pos_);
	std::memcpy(buf, out_.data() + out_pos_, n);
	out_pos_ += n;
	return n;
}

} // namespace tb::archive
