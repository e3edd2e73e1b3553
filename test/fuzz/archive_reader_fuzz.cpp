// libFuzzer target for the archive reader. The first input byte picks what is fuzzed:
//  - even: the input is a whole archive file (header, chunk framing, footer);
//  - odd:  the rest of the input is an archive *body* (records, zstd frames), sealed here into
//    valid unencrypted chunks behind a valid header, so that the fuzzer reaches the record parser
//    that chunk authentication would otherwise keep it away from.
// Every input must either read cleanly or raise tb::Error; anything else (a crash, a sanitizer
// report, another exception, a huge allocation) is a bug.
#include "core/archive/archive_reader.hpp"
#include "core/archive/archive_writer.hpp"
#include "core/archive/copy_binary.hpp"
#include "core/error.hpp"

#include <cstring>
#include <string>
#include <vector>

namespace {

class MemorySource : public tb::Source {
public:
	MemorySource(const uint8_t *data, size_t size) : data_(data), size_(size) {}
	size_t read(uint8_t *buf, size_t cap) override {
		size_t n = std::min(cap, size_ - pos_);
		std::memcpy(buf, data_ + pos_, n);
		pos_ += n;
		return n;
	}

private:
	const uint8_t *data_;
	size_t size_, pos_ = 0;
};

class StringSink : public tb::Sink {
public:
	explicit StringSink(std::string &out) : out_(out) {}
	void write(const uint8_t *data, size_t len) override { out_.append(reinterpret_cast<const char *>(data), len); }
	void finish() override {}

private:
	std::string &out_;
};

const char kTenant[] = "fuzz";

tb::archive::ReaderOptions options() {
	tb::archive::ReaderOptions o;
	o.tenant = kTenant;
	o.key_for = [](uint32_t) {
		tb::crypto::Key key{};
		key.fill(0x42);
		return key;
	};
	return o;
}

void read_all(const uint8_t *data, size_t size) {
	tb::archive::ArchiveReader reader(std::make_unique<MemorySource>(data, size), options());
	std::vector<uint8_t> buf(4096);
	while (auto table = reader.next_table()) {
		tb::archive::TableRows rows(reader);
		tb::archive::CopyTupleReader tuples(rows, table->columns.size());
		std::vector<tb::archive::CopyTupleReader::Field> fields;
		while (tuples.next(fields)) {
		}
	}
}

// Header plus the body sealed into unencrypted chunks, plus a footer pointing at chunk 0.
std::string seal_body(const uint8_t *body, size_t size) {
	tb::archive::FileHeader header;
	static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	header.flags = size >= 4 && std::memcmp(body, zstd_magic, 4) == 0 ? tb::archive::kFlagZstd : 0;
	header.chunk_size = 64;
	std::string file = header.serialize();
	StringSink sink(file);
	tb::crypto::ChunkParams params;
	params.base_nonce = header.base_nonce;
	params.context = tb::archive::chunk_context(header, kTenant);
	params.chunk_size = header.chunk_size;
	tb::crypto::ChunkSealSink chunks(sink, params);
	chunks.write(body, size);
	chunks.finish();
	std::string footer(24, '\0');
	footer[0] = static_cast<char>(tb::archive::kFileHeaderSize);
	std::memcpy(&footer[16], tb::archive::kFooterMagic, 8);
	return file + footer;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size == 0)
		return 0;
	try {
		if (data[0] % 2 == 0) {
			read_all(data + 1, size - 1);
		} else {
			std::string file = seal_body(data + 1, size - 1);
			read_all(reinterpret_cast<const uint8_t *>(file.data()), file.size());
		}
	} catch (const tb::Error &) {
		// the expected way to refuse bad input
	}
	return 0;
}
