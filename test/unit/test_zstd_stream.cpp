#include "core/stream/zstd_stream.hpp"

#include "test_support.hpp"

using namespace tbtest;

namespace {

std::string compress(const std::string &data, int level = 3, const std::vector<size_t> &pieces = {65536}) {
	std::string out;
	auto sink = std::make_unique<StringSink>(out);
	StringSink *raw = sink.get();
	tb::ZstdCompressSink z(std::move(sink), level);
	write_in_pieces(z, data, pieces);
	z.finish();
	EXPECT_EQ(raw->finished(), 1) << "finish() must reach the next stage";
	return out;
}

std::string decompress(const std::string &compressed, size_t read_size, size_t source_chunk = SIZE_MAX) {
	tb::ZstdDecompressSource src(memory_source(compressed, source_chunk));
	std::string out = read_all(src, read_size);
	// Once at its end, the source stays there.
	uint8_t b;
	EXPECT_EQ(src.read(&b, 1), 0u);
	return out;
}

} // namespace

TEST(ReadExact, ReadsAcrossShortReadsAndReportsEnd) {
	MemorySource src("hello world", 2);
	uint8_t buf[16];
	ASSERT_TRUE(tb::read_exact(src, buf, 5));
	EXPECT_EQ(std::string(reinterpret_cast<char *>(buf), 5), "hello");
	ASSERT_TRUE(tb::read_exact(src, buf, 0));
	EXPECT_FALSE(tb::read_exact(src, buf, 7)); // only 6 bytes left
	EXPECT_EQ(src.position(), 11u);
}

TEST(Zstd, EmptyRoundTrip) {
	std::string c = compress("");
	EXPECT_FALSE(c.empty()) << "even an empty stream is a complete zstd frame";
	for (size_t rs : {1, 5, 65536})
		EXPECT_EQ(decompress(c, rs), "");
}

TEST(Zstd, SmallRoundTrip) {
	const std::string data = "tenant_backup: a small \0 string with \xff bytes";
	std::string c = compress(data, 3, {1});
	for (size_t rs : {1, 2, 3, 7, 1000})
		for (size_t chunk : {size_t(1), size_t(5), SIZE_MAX})
			EXPECT_EQ(decompress(c, rs, chunk), data) << "read size " << rs << ", source chunk " << chunk;
}

TEST(Zstd, LargeRandomRoundTrip) {
	std::string data = random_bytes(6 * 1024 * 1024 + 123, 11);
	std::string c = compress(data, 1, {1 << 20, 3, 77777});
	EXPECT_GE(c.size(), data.size() * 99 / 100) << "random data does not compress";
	for (size_t rs : {size_t(4093), size_t(131073), size_t((1 << 20) + 3)})
		EXPECT_EQ(decompress(c, rs, 65537), data) << "read size " << rs;
}

TEST(Zstd, LargeCompressibleRoundTrip) {
	std::string data = compressible_bytes(8 * 1024 * 1024 + 5);
	std::string c = compress(data, 3, {1 << 20, 12345});
	EXPECT_LT(c.size(), data.size() / 20) << "repetitive text compresses well";
	for (size_t rs : {size_t(13), size_t(4093), size_t((1 << 20) + 3)})
		EXPECT_EQ(decompress(c, rs), data) << "read size " << rs;
}

TEST(Zstd, OneByteReadsOfCompressibleData) {
	// With tiny reads the decoder holds decoded bytes after it consumed all the input; they must
	// still come out, and the end of the stream must not be mistaken for a truncation.
	for (size_t len : {size_t(1000), size_t(200000), size_t(700001)}) {
		std::string zeros(len, '\0');
		std::string c = compress(zeros);
		std::string out;
		ASSERT_NO_THROW(out = decompress(c, 1)) << "length " << len;
		EXPECT_EQ(out, zeros) << "length " << len;

		std::string text = compressible_bytes(len);
		c = compress(text);
		ASSERT_NO_THROW(out = decompress(c, 1, 3)) << "length " << len;
		EXPECT_EQ(out, text) << "length " << len;
	}
}

TEST(Zstd, ReadsNeverExceedCap) {
	std::string data = compressible_bytes(300000);
	tb::ZstdDecompressSource src(memory_source(compress(data)));
	std::string out;
	uint8_t buf[1000];
	size_t caps[] = {1, 999, 17, 1000, 2};
	for (size_t i = 0;; i++) {
		size_t cap = caps[i % 5];
		size_t n = src.read(buf, cap);
		ASSERT_LE(n, cap);
		if (n == 0)
			break;
		out.append(reinterpret_cast<char *>(buf), n);
	}
	EXPECT_EQ(out, data);
}

TEST(Zstd, LevelsRoundTrip) {
	std::string data = compressible_bytes(100000) + random_bytes(50000, 3);
	for (int level : {1, 3, 9, 19})
		EXPECT_EQ(decompress(compress(data, level), 4096), data) << "level " << level;
}

TEST(Zstd, TruncatedStreamIsCorrupt) {
	std::string data = compressible_bytes(20000) + random_bytes(3000, 4);
	std::string c = compress(data);
	ASSERT_GT(c.size(), 20u);
	for (size_t len = 1; len < c.size(); len++) {
		std::string cut = c.substr(0, len);
		ASSERT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { decompress(cut, 4096); })) << "cut at " << len;
	}
}

TEST(Zstd, TruncatedLargeStreamIsCorrupt) {
	std::string data = random_bytes(3 * 1024 * 1024, 5);
	std::string c = compress(data);
	for (size_t len = 1; len < c.size(); len += 65521) {
		std::string cut = c.substr(0, len);
		ASSERT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { decompress(cut, 1 << 20); })) << "cut at " << len;
	}
	std::string cut = c.substr(0, c.size() - 1);
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { decompress(cut, 1 << 20); }));
}

TEST(Zstd, EmptyInputIsAnEmptyStream) {
	// No bytes at all is not a damaged frame: there is simply nothing in it.
	EXPECT_EQ(decompress("", 100), "");
}

TEST(Zstd, GarbageIsCorrupt) {
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [] { decompress("this is not a zstd stream at all", 100); }));
	for (uint32_t seed = 0; seed < 50; seed++) {
		std::string garbage = random_bytes(1 + seed * 37, seed);
		EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { decompress(garbage, 1000); })) << "seed " << seed;
	}
}

TEST(Zstd, GarbageAfterFrameIsCorrupt) {
	std::string data = compressible_bytes(5000);
	std::string c = compress(data);
	for (const std::string &tail : {std::string("x"), std::string("\0\0\0\0", 4), std::string(64, '\x55')}) {
		std::string bad = c + tail;
		EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { decompress(bad, 1000); })) << tail.size();
	}
}

TEST(Zstd, ConcatenatedFramesDecodeInSequence) {
	std::string a = compressible_bytes(7000), b = random_bytes(3000, 9);
	EXPECT_EQ(decompress(compress(a) + compress(b), 333), a + b);
}

TEST(Zstd, DamagedFrameNeverCrashes) {
	// Without a content checksum a damaged block may decode to other bytes, but any error must be
	// a Corrupt one.
	std::string data = compressible_bytes(4000) + random_bytes(500, 10);
	std::string c = compress(data);
	size_t errors = 0;
	for (size_t pos = 0; pos < c.size(); pos++) {
		std::string bad = c;
		bad[pos] = static_cast<char>(bad[pos] ^ 0x5a);
		try {
			decompress(bad, 512);
		} catch (const tb::Error &e) {
			ASSERT_EQ(e.kind(), tb::ErrorKind::Corrupt) << "at " << pos << ": " << e.what();
			errors++;
		}
	}
	EXPECT_GT(errors, 0u);
}

TEST(Zstd, BoundaryEndsAFrame) {
	// What follows a boundary is a frame of its own: it decompresses without what came before.
	std::string a = compressible_bytes(70000), b = compressible_bytes(30000) + random_bytes(1000, 12);
	std::string out;
	auto sink = std::make_unique<StringSink>(out);
	StringSink *raw = sink.get();
	tb::ZstdCompressSink z(std::move(sink), 3);
	z.write(bytes_of(a), a.size());
	z.boundary();
	ASSERT_EQ(raw->boundaries().size(), 1u) << "boundary() is passed on to the next stage";
	size_t cut = raw->boundaries()[0];
	EXPECT_EQ(out.size(), cut) << "everything before the boundary has been written";
	z.boundary(); // an empty frame in between is harmless
	z.write(bytes_of(b), b.size());
	z.finish();
	EXPECT_EQ(raw->finished(), 1);
	EXPECT_EQ(raw->boundaries().size(), 2u);
	EXPECT_EQ(out.substr(cut, 4), std::string("\x28\xb5\x2f\xfd", 4)) << "a new frame starts at the boundary";
	EXPECT_EQ(decompress(out, 4096), a + b);
	EXPECT_EQ(decompress(out.substr(0, cut), 4096), a);
	EXPECT_EQ(decompress(out.substr(raw->boundaries()[1]), 4096), b);
	EXPECT_EQ(decompress(out.substr(cut), 4096), b);
	// A cut right at the boundary is a complete stream; one byte less is not.
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { decompress(out.substr(0, cut - 1), 4096); }));
}
