// PostgreSQL's binary COPY format, as far as the archive needs it: a table's data is stored as
// binary COPY tuples (int16 field count, then per field an int32 length, -1 for NULL, and the
// bytes), so a restore can hand them to COPY FROM unchanged.
#pragma once
#include "core/stream/stream.hpp"

#include <memory>
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

// Splits a stream of binary COPY tuples into fields, checking every tuple's field count. Reads
// ahead: nothing else may read the stream it is given.
class CopyTupleReader {
public:
	struct Field {
		const uint8_t *data; // valid until the next call to next()
		int32_t length;      // -1 for NULL
	};
	CopyTupleReader(Source &tuples, size_t expected_fields) : in_(tuples), expected_(expected_fields) {}
	// Reads the next tuple; false at the end of the stream.
	bool next(std::vector<Field> &fields);
	// The raw bytes of the tuple next() read last (field count, then the fields).
	const std::string &raw() const { return tuple_; }

private:
	size_t take(uint8_t *out, size_t len);          // from the read-ahead; less only at the end of the stream
	bool next_in_place(std::vector<Field> &fields); // false: not whole in the read-ahead
	void need(size_t len);
	Source &in_;
	size_t expected_;
	std::string tuple_;                // the raw bytes of the current tuple
	std::unique_ptr<uint8_t[]> ahead_; // read from in_, [pos_, end_) not yet taken: the reader
	size_t pos_ = 0, end_ = 0;         // owns the rest of its stream
	std::vector<std::pair<size_t, int32_t>> spans_;
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

// Cuts a stream of tuples into batches of at most `per_batch` tuples, each read as a stream of its
// own (read() returns 0 at the end of the batch), so that a loader can hand each batch to one
// statement and memory or staging space stays bounded by the batch. Tuples are passed on whole,
// their field count checked.
class TupleBatches : public Source {
public:
	TupleBatches(Source &tuples, size_t fields, uint64_t per_batch);
	// Starts the next batch; false when no tuple is left. Call before the first batch too.
	bool next_batch();
	size_t read(uint8_t *buf, size_t cap) override;

private:
	CopyTupleReader reader_;
	std::vector<CopyTupleReader::Field> fields_;
	uint64_t per_batch_, in_batch_ = 0;
	bool pending_ = false; // reader_ holds a tuple not yet passed on
	size_t pos_ = 0;       // of the pending tuple's bytes already passed on
};

} // namespace tb::archive
