// PostgreSQL's binary COPY format, as far as the archive needs it: a table's data is stored as
// binary COPY tuples (int16 field count, then per field an int32 length, -1 for NULL, and the
// bytes), so a restore can hand them to COPY FROM unchanged.
#pragma once
#include "core/stream/stream.hpp"

#include <string>
#include <vector>

namespace tb::archive {

// Frames a stream of tuples as a complete binary COPY stream: signature and header, the tuples,
// then the int16 -1 trailer.
class CopyBinaryFrame : public Source {
public:
	explicit CopyBinaryFrame(Source &tuples) : tuples_(tuples) {}
	size_t read(uint8_t *buf, size_t cap) override;

private:
	size_t emit(const std::string &bytes, uint8_t *buf, size_t cap);
	Source &tuples_;
	enum class Phase { Header, Tuples, Trailer, Done } phase_ = Phase::Header;
	size_t pos_ = 0;
};

// Splits a stream of binary COPY tuples into fields, checking every tuple's field count.
class CopyTupleReader {
public:
	struct Field {
		const uint8_t *data; // valid until the next call to next()
		int32_t length;      // -1 for NULL
	};
	CopyTupleReader(Source &tuples, size_t expected_fields) : in_(tuples), expected_(expected_fields) {}
	// Reads the next tuple; false at the end of the stream.
	bool next(std::vector<Field> &fields);

private:
	void need(size_t len);
	Source &in_;
	size_t expected_;
	std::string tuple_; // the raw bytes of the current tuple
};

// Rewrites tuples to keep only the fields whose keep[i] is true (columns dropped since the backup
// are skipped). Checks every tuple's field count against keep.size().
class TupleFieldFilter : public Source {
public:
	TupleFieldFilter(Source &tuples, std::vector<bool> keep);
	size_t read(uint8_t *buf, size_t cap) override;

private:
	CopyTupleReader reader_;
	std::vector<bool> keep_;
	std::vector<CopyTupleReader::Field> fields_;
	size_t kept_ = 0;
	std::string out_;
	size_t out_pos_ = 0;
	bool done_ = false;
};

} // namespace tb::archive
