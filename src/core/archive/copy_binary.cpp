#include "core/archive/copy_binary.hpp"

#include "core/error.hpp"

#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

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

void CopyTupleReader::need(size_t len) {
	// Grow in bounded steps: a damaged length may claim up to 2 GiB, and the buffer must only
	// grow with bytes that really arrive.
	while (len > 0) {
		size_t step = std::min(len, kFieldStep);
		size_t at = tuple_.size();
		tuple_.resize(at + step);
		if (!read_exact(in_, reinterpret_cast<uint8_t *>(tuple_.data()) + at, step))
			throw Error(ErrorKind::Corrupt, "archive is damaged: a row ends in the middle");
		len -= step;
	}
}

bool CopyTupleReader::next(std::vector<Field> &fields) {
	tuple_.clear();
	uint8_t first;
	if (in_.read(&first, 1) == 0)
		return false;
	tuple_.push_back(static_cast<char>(first));
	need(1);
	const auto *b = reinterpret_cast<const uint8_t *>(tuple_.data());
	size_t count = (size_t(b[0]) << 8) | b[1];
	if (count != expected_)
		throw Error(ErrorKind::Corrupt, "archive is damaged: a row has " + std::to_string(count) +
		                                    " fields where its table has " + std::to_string(expected_));
	std::vector<std::pair<size_t, int32_t>> spans; // offsets, since tuple_ may move as it grows
	for (size_t i = 0; i < count; i++) {
		size_t at = tuple_.size();
		need(4);
		int32_t len = static_cast<int32_t>(get_be32(reinterpret_cast<const uint8_t *>(tuple_.data()) + at));
		if (len < -1)
			throw Error(ErrorKind::Corrupt, "archive is damaged: negative field length");
		spans.emplace_back(at + 4, len);
		if (len > 0)
			need(static_cast<size_t>(len));
	}
	fields.clear();
	for (const auto &[offset, len] : spans)
		fields.push_back({reinterpret_cast<const uint8_t *>(tuple_.data()) + offset, len});
	return true;
}

TupleFieldFilter::TupleFieldFilter(Source &tuples, std::vector<bool> keep)
    : reader_(tuples, keep.size()), keep_(std::move(keep)) {
	for (bool k : keep_)
		kept_ += k;
}

size_t TupleFieldFilter::read(uint8_t *buf, size_t cap) {
	if (out_pos_ == out_.size()) {
		if (done_ || !reader_.next(fields_)) {
			done_ = true;
			return 0;
		}
		out_.clear();
		out_pos_ = 0;
		put_be16(out_, static_cast<uint16_t>(kept_));
		for (size_t i = 0; i < fields_.size(); i++) {
			if (!keep_[i])
				continue;
			const uint8_t *len_bytes = fields_[i].data - 4;
			out_.append(reinterpret_cast<const char *>(len_bytes), 4);
			if (fields_[i].length > 0)
				out_.append(reinterpret_cast<const char *>(fields_[i].data), static_cast<size_t>(fields_[i].length));
		}
	}
	size_t n = std::min(cap, out_.size() - out_pos_);
	std::memcpy(buf, out_.data() + out_pos_, n);
	out_pos_ += n;
	return n;
}

TupleBatches::TupleBatches(Source &tuples, size_t fields, uint64_t per_batch)
    : reader_(tuples, fields), per_batch_(per_batch == 0 ? 1 : per_batch) {}

bool TupleBatches::next_batch() {
	in_batch_ = 0;
	if (!pending_) {
		pending_ = reader_.next(fields_);
		pos_ = 0;
	}
	return pending_;
}

size_t TupleBatches::read(uint8_t *buf, size_t cap) {
	if (!pending_) {
		if (in_batch_ == 0 || in_batch_ >= per_batch_)
			return 0; // the batch is over (or next_batch() found nothing)
		pending_ = reader_.next(fields_);
		pos_ = 0;
		if (!pending_)
			return 0;
	}
	const std::string &raw = reader_.raw();
	size_t n = std::min(cap, raw.size() - pos_);
	std::memcpy(buf, raw.data() + pos_, n);
	pos_ += n;
	if (pos_ == raw.size()) {
		pending_ = false;
		in_batch_++;
	}
	return n;
}

} // namespace tb::archive
