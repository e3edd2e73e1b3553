// Writes a seed corpus of valid archives for archive_reader_fuzz: whole files (prefix byte 0)
// and bodies (prefix byte 1), compressed or not, encrypted or not, empty and with tables.
#include "core/archive/archive_reader.hpp"
#include "core/archive/archive_writer.hpp"

#include <cstring>

#include <fstream>
#include <string>

namespace {

class StringSink : public tb::Sink {
public:
	explicit StringSink(std::string &out) : out_(out) {}
	void write(const uint8_t *data, size_t len) override { out_.append(reinterpret_cast<const char *>(data), len); }
	void finish() override {}

private:
	std::string &out_;
};

std::string tuple(const std::vector<std::string> &fields) {
	std::string t;
	t.push_back(0);
	t.push_back(static_cast<char>(fields.size()));
	for (const auto &f : fields) {
		uint32_t len = f == "NULL" ? 0xffffffffu : static_cast<uint32_t>(f.size());
		for (int i = 3; i >= 0; i--)
			t.push_back(static_cast<char>(len >> (8 * i)));
		if (f != "NULL")
			t += f;
	}
	return t;
}

std::string archive(int level, bool encrypt, int tables) {
	std::string file;
	StringSink sink(file);
	tb::archive::WriterOptions o;
	o.tenant = "fuzz";
	o.compression_level = level;
	o.chunk_size = 64;
	if (encrypt) {
		tb::crypto::Key key{};
		key.fill(0x42);
		o.key = key;
		o.key_generation = 1;
	}
	tb::archive::ArchiveWriter w(sink, o);
	w.begin("{\"backup_id\": \"0\"}");
	for (int t = 0; t < tables; t++) {
		w.begin_table({"public", "t" + std::to_string(t), "tenant_id", {{"tenant_id", "integer"}, {"note", "text"}}});
		std::string rows = tuple({std::string("\0\0\0\1", 4), "hello"}) + tuple({std::string("\0\0\0\1", 4), "NULL"});
		w.append_rows(reinterpret_cast<const uint8_t *>(rows.data()), rows.size(), 2);
		w.end_table();
	}
	w.finish();
	return file;
}

class StringSource : public tb::Source {
public:
	StringSource(const std::string &s, size_t pos) : s_(s), pos_(pos) {}
	size_t read(uint8_t *buf, size_t cap) override {
		size_t n = std::min(cap, s_.size() - pos_);
		std::memcpy(buf, s_.data() + pos_, n);
		pos_ += n;
		return n;
	}

private:
	const std::string &s_;
	size_t pos_;
};

// The body of an unencrypted archive: its chunks' data, concatenated.
std::string body_of(const std::string &file) {
	StringSource raw(file, 0);
	tb::archive::FileHeader header = tb::archive::read_file_header(raw);
	tb::crypto::ChunkParams params;
	params.base_nonce = header.base_nonce;
	params.context = tb::archive::chunk_context(header, "fuzz");
	params.chunk_size = header.chunk_size;
	tb::crypto::ChunkOpenSource chunks(raw, params);
	std::string body;
	uint8_t buf[4096];
	for (size_t n; (n = chunks.read(buf, sizeof(buf))) > 0;)
		body.append(reinterpret_cast<const char *>(buf), n);
	return body;
}

} // namespace

int main(int argc, char **argv) {
	std::string dir = argc > 1 ? argv[1] : ".";
	int n = 0;
	for (int level : {0, 3})
		for (bool encrypt : {false, true})
			for (int tables : {0, 2}) {
				std::string a = archive(level, encrypt, tables);
				std::ofstream(dir + "/file-" + std::to_string(n++), std::ios::binary) << std::string(1, '\0') << a;
				if (!encrypt)
					std::ofstream(dir + "/body-" + std::to_string(n++), std::ios::binary)
					    << std::string(1, '\1') << body_of(a);
			}
	return 0;
}
