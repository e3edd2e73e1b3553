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
constexpr size_t kReadAhead = 64 * 1024;

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

size_t CopyTupleReader::take(uint8_t *out, size_t len) {
	size_t done = 0;
	while (done < len) {
		if (pos_ == end_) {
			// Read ahead in large pieces: a small read travels the whole chain of sources.
			if (!ahead_)
				ahead_ = std::make_unique<uint8_t[]>(kReadAhead);
			end_ = in_.read(ahead_.get(), kReadAhead);
			pos_ = 0;
			if (end_ == 0)
				break;
		}
		size_t n = std::min(len - done, end_ - pos_);
		std::memcpy(out + done, ahead_.get() + pos_, n);
		pos_ += n;
		done += n;
	}
	return done;
}

void CopyTupleReader::need(size_t len) {
	// Grow in bounded steps: a damaged length may claim up to 2 GiB, and the buffer must only
	// grow with bytes that really arrive.
	while (len > 0) {
		size_t step = std::min(len, kFieldStep);
		size_t at = tuple_.size();
		tuple_.resize(at + step);
		if (take(reinterpret_cast<uint8_t *>(tuple_.data()) + at, step) != step)
			throw Error(ErrorKind::Corrupt, "archive is damaged: a row ends in the middle");
		len -= step;
	}
}

bool CopyTupleReader::next_in_place(std::vector<Field> &fields) {
	if (!ahead_)
		return false;
	const uint8_t *b = ahead_.get() + pos_;
	size_t avail = end_ - pos_;
	if (avail < 2)
		return false;
	size_t count = (size_t(b[0]) << 8) | b[1];
	if (count != expected_)
		return false; // the slow path says what is wrong
	size_t at = 2;
	spans_.clear();
	for (size_t i = 0; i < count; i++) {
		if (at + 4 > avail)
			return false;
		auto len = static_cast<int32_t>(get_be32(b + at));
		if (len < -1)
			return false;
		spans_.emplace_back(at + 4, len);
		at += 4 + (len > 0 ? static_cast<size_t>(len) : 0);
		if (at > avail)
			return false;
	}
	tuple_.assign(reinterpret_cast<const char *>(b), at);
	pos_ += at;
	fields.clear();
	for (const auto &[offset, len] : spans_)
		fields.push_back({reinterpret_cast<const uint8_t *>(tuple_.data()) + offset, len});
	return true;
}

bool CopyTupleReader::next(std::vector<Field> &fields) {
	// Most tuples lie whole in the read-ahead: split them there, in one pass. One cut at its end
	// moves to the front and the read-ahead fills up behind it (sources return what they have:
	// an archive a record at a time), so that it too comes whole.
	if (next_in_place(fields))
		return true;
	if (ahead_ && pos_ < end_ && pos_ > 0) {
		std::memmove(ahead_.get(), ahead_.get() + pos_, end_ - pos_);
		end_ -= pos_;
		pos_ = 0;
		while (end_ < kReadAhead) {
			size_t n = in_.read(ahead_.get() + end_, kReadAhead - end_);
			if (n == 0)
				break;
			end_ += n;
		}
		if (next_in_place(fields))
			return true;
	}
	tuple_.clear();
	uint8_t first;
	if (take(&first, 1) == 0)
		return false;
	tuple_.push_back(static_cast<char>(first));
	need(1);
	const auto *b = reinterpret_cast<const uint8_t *>(tuple_.data());
	size_t count = (size_t(b[0]) << 8) | b[1];
	if (count != expected_)
		throw Error(ErrorKind::Corrupt, "archive is damaged: a row has " + std::to_string(count) +
		                                    " fields where its table has " + std::to_string(expected_));
	std::vector<std::pair<size_t, int32_t>> &spans = spans_; // offsets, since tuple_ may move as it grows
	spans.clear();
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
