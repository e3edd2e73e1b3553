#include "core/stream/zstd_stream.hpp"

#include "core/error.hpp"

#include <zstd.h>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

struct ZstdCompressSink::Impl {
	ZSTD_CCtx *ctx = ZSTD_createCCtx();
	~Impl() { ZSTD_freeCCtx(ctx); }
};

ZstdCompressSink::ZstdCompressSink(std::unique_ptr<Sink> next, int level)
    : impl_(std::make_unique<Impl>()), next_(std::move(next)), out_(ZSTD_CStreamOutSize()) {
	if (!impl_->ctx || ZSTD_isError(ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_compressionLevel, level)))
		throw Error(ErrorKind::Internal, "could not initialize zstd compression");
}

ZstdCompressSink::~ZstdCompressSink() = default;

void ZstdCompressSink::write(const uint8_t *data, size_t len) {
	ZSTD_inBuffer in{data, len, 0};
	while (in.pos < in.size) {
		ZSTD_outBuffer out{out_.data(), out_.size(), 0};
		size_t rc = ZSTD_compressStream2(impl_->ctx, &out, &in, ZSTD_e_continue);
		if (ZSTD_isError(rc))
			throw Error(ErrorKind::Internal, std::string("zstd compression failed: ") + ZSTD_getErrorName(rc));
		if (out.pos)
			next_->write(out_.data(), out.pos);
	}
}

void ZstdCompressSink::finish() {
	end_frame();
	next_->finish();
}

void ZstdCompressSink::boundary() {
	end_frame();
	next_->boundary();
}

void ZstdCompressSink::end_frame() {
	ZSTD_inBuffer in{nullptr, 0, 0};
	size_t remaining;
	do {
		ZSTD_outBuffer out{out_.data(), out_.size(), 0};
		remaining = ZSTD_compressStream2(impl_->ctx, &out, &in, ZSTD_e_end);
		if (ZSTD_isError(remaining))
			throw Error(ErrorKind::Internal, std::string("zstd compression failed: ") + ZSTD_getErrorName(remaining));
		if (out.pos)
			next_->write(out_.data(), out.pos);
	} while (remaining != 0);
}

struct ZstdDecompressSource::Impl {
	ZSTD_DCtx *ctx = ZSTD_createDCtx();
	~Impl() { ZSTD_freeDCtx(ctx); }
};

ZstdDecompressSource::ZstdDecompressSource(std::unique_ptr<Source> in)
    : impl_(std::make_unique<Impl>()), in_(std::move(in)), in_buf_(ZSTD_DStreamInSize()) {
	if (!impl_->ctx)
		throw Error(ErrorKind::Internal, "could not initialize zstd decompression");
}

ZstdDecompressSource::~ZstdDecompressSource() = default;

size_t ZstdDecompressSource::read(uint8_t *buf, size_t cap) {
	while (true) {
		if (in_pos_ == in_len_ && !in_eof_) {
			in_len_ = in_->read(in_buf_.data(), in_buf_.size());
			in_pos_ = 0;
			in_eof_ = in_len_ == 0;
		}
		if (in_pos_ == in_len_ && in_eof_) {
			// Input is exhausted; whatever the decoder still holds is flushed with an empty input.
			ZSTD_inBuffer in{nullptr, 0, 0};
			ZSTD_outBuffer out{buf, cap, 0};
			size_t rc = ZSTD_decompressStream(impl_->ctx, &out, &in);
			if (ZSTD_isError(rc))
				throw Error(ErrorKind::Corrupt, std::string("archive is damaged: ") + ZSTD_getErrorName(rc));
			if (out.pos)
				return out.pos;
			if (frame_open_)
				throw Error(ErrorKind::Corrupt, "archive is truncated: the compressed stream ends inside a frame");
			return 0;
		}
		ZSTD_inBuffer in{in_buf_.data() + in_pos_, in_len_ - in_pos_, 0};
		ZSTD_outBuffer out{buf, cap, 0};
		size_t rc = ZSTD_decompressStream(impl_->ctx, &out, &in);
		if (ZSTD_isError(rc))
			throw Error(ErrorKind::Corrupt, std::string("archive is damaged: ") + ZSTD_getErrorName(rc));
		in_pos_ += in.pos;
		frame_open_ = rc != 0;
		if (out.pos)
			return out.pos;
	}
}

} // namespace tb
