// Shared helpers for the unit tests: in-memory sinks, sources and storage, binary COPY tuple
// builders and an assertion that a call throws tb::Error of a given kind.
#pragma once
#include "core/error.hpp"
#include "core/storage/storage.hpp"
#include "core/stream/stream.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace tbtest {

inline const uint8_t *bytes_of(const std::string &s) {
	return reinterpret_cast<const uint8_t *>(s.data());
}

// Appends everything written to a string the test owns (so that a stage may own the sink).
class StringSink : public tb::Sink {
public:
	explicit StringSink(std::string &out) : out_(out) {}
	void write(const uint8_t *data, size_t len) override {
		if (finished_)
			ADD_FAILURE() << "write after finish";
		out_.append(reinterpret_cast<const char *>(data), len);
		writes_++;
	}
	void finish() override { finished_++; }
	void boundary() override { boundaries_.push_back(out_.size()); }
	int finished() const { return finished_; }
	size_t writes() const { return writes_; }
	// The size of the output at each boundary() call.
	const std::vector<size_t> &boundaries() const { return boundaries_; }

private:
	std::string &out_;
	int finished_ = 0;
	size_t writes_ = 0;
	std::vector<size_t> boundaries_;
};

// Serves a copy of a string, never more than max_chunk bytes per read (to exercise partial reads).
class MemorySource : public tb::Source {
public:
	explicit MemorySource(std::string data, size_t max_chunk = SIZE_MAX)
	    : owned_(std::move(data)), data_(owned_.data()), size_(owned_.size()), max_chunk_(max_chunk) {}
	size_t read(uint8_t *buf, size_t cap) override {
		size_t n = std::min({cap, max_chunk_, size_ - pos_});
		std::memcpy(buf, data_ + pos_, n);
		pos_ += n;
		return n;
	}
	size_t position() const { return pos_; }

protected:
	// A source over the first len bytes of a string that outlives it (no copy).
	MemorySource(const std::string &data, size_t len, size_t max_chunk)
	    : data_(data.data()), size_(std::min(len, data.size())), max_chunk_(max_chunk) {}

private:
	std::string owned_;
	const char *data_;
	size_t size_;
	size_t max_chunk_;
	size_t pos_ = 0;
};

class PrefixSource : public MemorySource {
public:
	PrefixSource(const std::string &data, size_t len, size_t max_chunk = SIZE_MAX)
	    : MemorySource(data, len, max_chunk) {}
};

inline std::unique_ptr<tb::Source> memory_source(std::string data, size_t max_chunk = SIZE_MAX) {
	return std::make_unique<MemorySource>(std::move(data), max_chunk);
}

// A Storage in memory. It counts the bytes it serves, so that a test can tell how much of an
// object a reader needed.
class MemoryStorage : public tb::Storage {
public:
	std::map<std::string, std::string> objects;
	uint64_t bytes_served = 0;
	size_t opens = 0;

	std::unique_ptr<tb::WriteObject> open_write(const std::string &name, const std::string &tag) override {
		tb::check_object_name(name);
		tb::check_object_name(tag, false);
		return std::make_unique<Writer>(*this, name);
	}
	std::unique_ptr<tb::Source> open_read(const std::string &name, uint64_t offset = 0) override {
		auto it = find(name);
		opens++;
		return std::make_unique<Reader>(*this, it->second, offset);
	}
	uint64_t size(const std::string &name) override { return find(name)->second.size(); }
	bool remove(const std::string &name) override { return objects.erase(name) > 0; }
	bool exists(const std::string &name) override { return objects.count(name) > 0; }
	std::vector<tb::ObjectInfo> list(const std::string &prefix) override {
		std::vector<tb::ObjectInfo> out;
		for (auto it = objects.lower_bound(prefix);
		     it != objects.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
			out.push_back({it->first, it->second.size()});
		return out;
	}
	std::vector<tb::TemporaryObject> list_temporaries() override { return {}; }
	std::string describe(const std::string &name) const override { return "memory:" + name; }

private:
	std::map<std::string, std::string>::iterator find(const std::string &name) {
		tb::check_object_name(name);
		auto it = objects.find(name);
		if (it == objects.end())
			throw tb::Error(tb::ErrorKind::NotFound, "no object " + name);
		return it;
	}
	class Writer : public tb::WriteObject {
	public:
		Writer(MemoryStorage &s, std::string name) : s_(s), name_(std::move(name)) {}
		void write(const uint8_t *data, size_t len) override {
			data_.append(reinterpret_cast<const char *>(data), len);
		}
		void finish() override {}
		void publish() override { s_.objects[name_] = data_; }
		const std::string &name() const override { return name_; }

	private:
		MemoryStorage &s_;
		std::string name_, data_;
	};
	// Reads the stored string in place: an object must not be replaced while it is read.
	class Reader : public tb::Source {
	public:
		Reader(MemoryStorage &s, const std::string &data, uint64_t offset)
		    : s_(s), data_(data), pos_(std::min<uint64_t>(offset, data.size())) {}
		size_t read(uint8_t *buf, size_t cap) override {
			size_t n = std::min(cap, data_.size() - pos_);
			std::memcpy(buf, data_.data() + pos_, n);
			pos_ += n;
			s_.bytes_served += n;
			return n;
		}

	private:
		MemoryStorage &s_;
		const std::string &data_;
		size_t pos_;
	};
};

// Reads a source to its end, asking for read_size bytes at a time.
inline std::string read_all(tb::Source &source, size_t read_size = 65536) {
	std::string out;
	std::vector<uint8_t> buf(read_size);
	for (size_t n; (n = source.read(buf.data(), buf.size())) > 0;) {
		EXPECT_LE(n, read_size);
		out.append(reinterpret_cast<const char *>(buf.data()), n);
	}
	return out;
}

// Writes data to a sink in pieces of the given sizes, cycling through them.
inline void write_in_pieces(tb::Sink &sink, const std::string &data, const std::vector<size_t> &pieces) {
	size_t pos = 0, i = 0;
	while (pos < data.size()) {
		size_t n = std::min(pieces[i++ % pieces.size()], data.size() - pos);
		sink.write(bytes_of(data) + pos, n);
		pos += n;
	}
}

inline std::string random_bytes(size_t len, uint32_t seed) {
	std::mt19937 gen(seed);
	std::string s(len, '\0');
	for (auto &c : s)
		c = static_cast<char>(gen() & 0xff);
	return s;
}

// Repetitive text that zstd compresses well but that is not a single repeated byte.
inline std::string compressible_bytes(size_t len) {
	static const std::string words[] = {"tenant ", "backup ", "archive ", "restore ", "row ", "\n", "42 "};
	std::string s;
	s.reserve(len + 16);
	for (size_t i = 0; s.size() < len; i++)
		s += words[(i * 7 + i / 13) % 7];
	s.resize(len);
	return s;
}

// ---- PostgreSQL binary COPY tuples ----

// One field of a tuple: nullopt is SQL NULL.
using Field = std::optional<std::string>;

inline void put_be16(std::string &out, uint16_t v) {
	out.push_back(static_cast<char>(v >> 8));
	out.push_back(static_cast<char>(v & 0xff));
}
inline void put_be32(std::string &out, uint32_t v) {
	for (int shift = 24; shift >= 0; shift -= 8)
		out.push_back(static_cast<char>((v >> shift) & 0xff));
}
inline std::string be32(uint32_t v) {
	std::string s;
	put_be32(s, v);
	return s;
}
inline std::string be64(uint64_t v) {
	return be32(static_cast<uint32_t>(v >> 32)) + be32(static_cast<uint32_t>(v));
}

inline std::string tuple(const std::vector<Field> &fields) {
	std::string out;
	put_be16(out, static_cast<uint16_t>(fields.size()));
	for (const auto &f : fields) {
		if (!f) {
			put_be32(out, 0xffffffffu);
		} else {
			put_be32(out, static_cast<uint32_t>(f->size()));
			out += *f;
		}
	}
	return out;
}

// Parses a stream of tuples back into fields; fails the test on malformed input.
inline std::vector<std::vector<Field>> parse_tuples(const std::string &data) {
	std::vector<std::vector<Field>> rows;
	size_t pos = 0;
	auto take = [&](size_t n) -> std::string {
		if (data.size() - pos < n) {
			ADD_FAILURE() << "tuple stream ends in the middle at " << pos;
			pos = data.size();
			return std::string();
		}
		std::string s = data.substr(pos, n);
		pos += n;
		return s;
	};
	while (pos < data.size()) {
		std::string h = take(2);
		if (h.size() != 2)
			break;
		size_t count = (size_t(uint8_t(h[0])) << 8) | uint8_t(h[1]);
		std::vector<Field> row;
		for (size_t i = 0; i < count; i++) {
			std::string l = take(4);
			if (l.size() != 4)
				break;
			uint32_t len = (uint32_t(uint8_t(l[0])) << 24) | (uint32_t(uint8_t(l[1])) << 16) |
			               (uint32_t(uint8_t(l[2])) << 8) | uint32_t(uint8_t(l[3]));
			if (len == 0xffffffffu)
				row.push_back(std::nullopt);
			else
				row.push_back(take(len));
		}
		rows.push_back(std::move(row));
	}
	return rows;
}

// ---- Assertions on tb::Error ----

inline const char *kind_name(tb::ErrorKind kind) {
	switch (kind) {
	case tb::ErrorKind::InvalidInput:
		return "InvalidInput";
	case tb::ErrorKind::Corrupt:
		return "Corrupt";
	case tb::ErrorKind::NotFound:
		return "NotFound";
	case tb::ErrorKind::Io:
		return "Io";
	case tb::ErrorKind::Internal:
		return "Internal";
	case tb::ErrorKind::PermissionDenied:
		return "PermissionDenied";
	case tb::ErrorKind::Cancelled:
		return "Cancelled";
	}
	return "?";
}

// Success iff f() throws tb::Error of the given kind with a non-empty message.
template <class F>::testing::AssertionResult throws_kind(tb::ErrorKind kind, F &&f) {
	try {
		f();
	} catch (const tb::Error &e) {
		if (e.kind() != kind)
			return ::testing::AssertionFailure() << "threw tb::Error of kind " << kind_name(e.kind()) << " instead of "
			                                     << kind_name(kind) << ": " << e.what();
		if (std::string(e.what()).empty())
			return ::testing::AssertionFailure() << "tb::Error has an empty message";
		return ::testing::AssertionSuccess();
	} catch (const std::exception &e) {
		return ::testing::AssertionFailure() << "threw a foreign exception instead of tb::Error: " << e.what();
	} catch (...) {
		return ::testing::AssertionFailure() << "threw a non-std exception";
	}
	return ::testing::AssertionFailure() << "did not throw (expected " << kind_name(kind) << ")";
}

} // namespace tbtest
