// zstd compression as a Sink stage and decompression as a Source stage (libzstd streaming API).
#pragma once
#include "core/stream/stream.hpp"

#include <memory>
#include <vector>

namespace tb {

class ZstdCompressSink : public Sink {
public:
	ZstdCompressSink(std::unique_ptr<Sink> next, int level);
	~ZstdCompressSink() override;
	void write(const uint8_t *data, size_t len) override;
	void finish() override;
	// Ends the current zstd frame, so what follows can be decompressed on its own.
	void boundary() override;

private:
	void end_frame();
	struct Impl;
	std::unique_ptr<Impl> impl_;
	std::unique_ptr<Sink> next_;
	std::vector<uint8_t> out_;
};

// Throws a Corrupt error if the compressed stream is damaged or ends inside a frame.
class ZstdDecompressSource : public Source {
public:
	explicit ZstdDecompressSource(std::unique_ptr<Source> in);
	~ZstdDecompressSource() override;
	size_t read(uint8_t *buf, size_t cap) override;

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
	std::unique_ptr<Source> in_;
	std::vector<uint8_t> in_buf_;
	size_t in_pos_ = 0, in_len_ = 0;
	bool in_eof_ = false;
	bool frame_open_ = false; // true while a frame has started but not ended
};

} // namespace tb
