// A temporary file of PostgreSQL's own (BufFile): under temp_tablespaces, counted against
// temp_file_limit, removed at the end of the transaction whatever happens. Written, then read from
// its start; buffered here, so that a small record costs no call into PostgreSQL.
#pragma once
#include "core/stream/stream.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <string>

extern "C" {
#include "storage/buffile.h"
}

namespace tb::pg {

class SpillFile : public Source {
public:
	SpillFile();
	~SpillFile() override;
	SpillFile(const SpillFile &) = delete;
	SpillFile &operator=(const SpillFile &) = delete;

	void write(const void *data, size_t len);
	// A record's length, as written by write_length.
	void write_length(uint32_t len) { write(&len, sizeof len); }
	// Ends writing; reads start at the first byte.
	void rewind();
	// Reads up to cap bytes; 0 at the end of the file.
	size_t read(uint8_t *buf, size_t cap) override;
	// Reads exactly len bytes, false at the end of the file; a partial record is an error.
	bool read_exactly(void *data, size_t len);
	bool read_length(uint32_t &len) { return read_exactly(&len, sizeof len); }

private:
	void flush();
	BufFile *file_ = nullptr;
	std::string buffer_;
	size_t pos_ = 0; // of the buffer's bytes already read
};

} // namespace tb::pg
