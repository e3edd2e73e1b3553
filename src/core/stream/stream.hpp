// Byte streams: a backup is a chain of Sinks (archive framing -> zstd -> SHA-256 -> storage) and a
// restore a chain of Sources (storage -> zstd -> archive parsing). Each stage owns the next one.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tb {

class Sink {
public:
	virtual ~Sink() = default;
	virtual void write(const uint8_t *data, size_t len) = 0;
	// Flushes everything buffered down the chain; no write may follow.
	virtual void finish() = 0;
	// Marks a point after which the stream can be read on its own (a new zstd frame, a new
	// cipher chunk). Stages that buffer or frame override it and pass it on.
	virtual void boundary() {}
};

class Source {
public:
	virtual ~Source() = default;
	// Reads up to cap bytes; returns 0 only at end of stream.
	virtual size_t read(uint8_t *buf, size_t cap) = 0;
};

// Reads a byte range that the caller keeps alive.
class BytesSource : public Source {
public:
	BytesSource(const uint8_t *data, size_t len) : data_(data), len_(len) {}
	size_t read(uint8_t *buf, size_t cap) override;
	void rewind() { pos_ = 0; }

private:
	const uint8_t *data_;
	size_t len_, pos_ = 0;
};

// Reads exactly len bytes or returns false if the stream ended first (after reading a partial amount).
bool read_exact(Source &source, uint8_t *buf, size_t len);

} // namespace tb
