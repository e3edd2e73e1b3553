#include "pg/archive/spill_file.hpp"

#include "pg/boundary/guard.hpp"

extern "C" {
#include "commands/tablespace.h"
}

#include <cstring>

namespace tb::pg {

namespace {
constexpr size_t kBufferBytes = 8 * 1024; // a BufFile buffers a block too; many may be open at once
}

SpillFile::SpillFile() {
	file_ = pg_eval([] {
		PrepareTempTablespaces(); // under temp_tablespaces, as a hash join's or a sort's files
		return BufFileCreateTemp(false);
	});
	buffer_.reserve(kBufferBytes);
}

SpillFile::~SpillFile() {
	BufFile *f = file_;
	try {
		pg_call([f] { BufFileClose(f); });
	} catch (...) {
		// An error ends the transaction, whose resource owner closes and removes the file anyway.
	}
}

void SpillFile::write(const void *data, size_t len) {
	if (buffer_.size() + len > kBufferBytes)
		flush();
	if (len > kBufferBytes) {
		BufFile *f = file_;
		pg_call([f, data, len] { BufFileWrite(f, const_cast<void *>(data), len); });
	} else {
		buffer_.append(static_cast<const char *>(data), len);
	}
}

void SpillFile::flush() {
	if (buffer_.empty())
		return;
	BufFile *f = file_;
	char *data = buffer_.data();
	size_t len = buffer_.size();
	pg_call([f, data, len] { BufFileWrite(f, data, len); });
	buffer_.clear();
}

void SpillFile::rewind() {
	flush();
	BufFile *f = file_;
	if (pg_eval([f] { return BufFileSeek(f, 0, 0, SEEK_SET); }) != 0)
		throw SqlError(ERRCODE_IO_ERROR, "could not rewind a temporary file of tenant_backup's comparison");
	pos_ = 0;
	buffer_.clear();
}

size_t SpillFile::read(uint8_t *buf, size_t cap) {
	if (pos_ == buffer_.size()) {
		buffer_.resize(kBufferBytes);
		BufFile *f = file_;
		char *data = buffer_.data();
		size_t n = pg_eval([f, data] { return BufFileRead(f, data, kBufferBytes); });
		buffer_.resize(n);
		pos_ = 0;
		if (n == 0)
			return 0;
	}
	size_t n = std::min(cap, buffer_.size() - pos_);
	std::memcpy(buf, buffer_.data() + pos_, n);
	pos_ += n;
	return n;
}

bool SpillFile::read_exactly(void *data, size_t len) {
	auto *out = static_cast<uint8_t *>(data);
	size_t got = 0;
	while (got < len) {
		size_t n = read(out + got, len - got);
		if (n == 0) {
			if (got == 0)
				return false;
			throw SqlError(ERRCODE_DATA_CORRUPTED,
			               "a temporary file of tenant_backup's comparison ended inside a record");
		}
		got += n;
	}
	return true;
}

} // namespace tb::pg
