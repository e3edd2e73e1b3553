#include "core/stream/sha256.hpp"

#include "test_support.hpp"

using namespace tbtest;

namespace {

const char *kEmptyDigest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const char *kAbcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// FIPS 180-2 two-block message and the one-million-'a' message.
const char *kTwoBlockMessage = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const char *kTwoBlockDigest = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
const char *kMillionADigest = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

std::string sha256_hex(const std::string &data) {
	tb::Sha256 h;
	h.update(bytes_of(data), data.size());
	return h.hex_digest();
}

} // namespace

TEST(Sha256, KnownVectors) {
	EXPECT_EQ(sha256_hex(""), kEmptyDigest);
	EXPECT_EQ(sha256_hex("abc"), kAbcDigest);
	EXPECT_EQ(sha256_hex(kTwoBlockMessage), kTwoBlockDigest);
	EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), kMillionADigest);
}

TEST(Sha256, NoUpdateIsEmptyDigest) {
	tb::Sha256 h;
	EXPECT_EQ(h.hex_digest(), kEmptyDigest);
}

TEST(Sha256, ZeroLengthUpdatesChangeNothing) {
	tb::Sha256 h;
	h.update(nullptr, 0);
	h.update(bytes_of("abc"), 3);
	h.update(nullptr, 0);
	EXPECT_EQ(h.hex_digest(), kAbcDigest);
}

TEST(Sha256, IncrementalEqualsOneShot) {
	std::string data(1000000, 'a');
	for (size_t piece : {1, 3, 63, 64, 65, 4096, 999999}) {
		tb::Sha256 h;
		for (size_t pos = 0; pos < data.size(); pos += piece)
			h.update(bytes_of(data) + pos, std::min(piece, data.size() - pos));
		EXPECT_EQ(h.hex_digest(), kMillionADigest) << "piece size " << piece;
	}
}

TEST(Sha256, DigestIsLowercaseHex) {
	std::string d = sha256_hex(random_bytes(1234, 7));
	ASSERT_EQ(d.size(), 64u);
	for (char c : d)
		EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << d;
	EXPECT_NE(d, sha256_hex(random_bytes(1234, 8)));
}

TEST(HashingSink, ForwardsBytesUnchangedAndCountsThem) {
	std::string data = random_bytes(3 * 1024 * 1024 + 17, 1);
	std::string forwarded;
	StringSink next(forwarded);
	tb::HashingSink sink(next);
	EXPECT_EQ(sink.bytes(), 0u);
	write_in_pieces(sink, data, {1, 7, 65536, 1 << 20, 3});
	EXPECT_EQ(sink.bytes(), data.size());
	EXPECT_EQ(next.finished(), 0);
	sink.finish();
	EXPECT_EQ(next.finished(), 1);
	EXPECT_EQ(forwarded, data);
	EXPECT_EQ(sink.hex_digest(), sha256_hex(data));
}

TEST(HashingSink, KnownVectorThroughSink) {
	std::string forwarded;
	StringSink next(forwarded);
	tb::HashingSink sink(next);
	sink.write(bytes_of("a"), 1);
	sink.write(bytes_of("bc"), 2);
	sink.finish();
	EXPECT_EQ(sink.bytes(), 3u);
	EXPECT_EQ(forwarded, "abc");
	EXPECT_EQ(sink.hex_digest(), kAbcDigest);
}

TEST(HashingSink, EmptyStream) {
	std::string forwarded;
	StringSink next(forwarded);
	tb::HashingSink sink(next);
	sink.finish();
	EXPECT_EQ(sink.bytes(), 0u);
	EXPECT_TRUE(forwarded.empty());
	EXPECT_EQ(sink.hex_digest(), kEmptyDigest);
}

TEST(Sha256Of, KnownVectorsOverSources) {
	{
		MemorySource src("");
		uint64_t len = 99;
		EXPECT_EQ(tb::sha256_of(src, &len), kEmptyDigest);
		EXPECT_EQ(len, 0u);
	}
	{
		MemorySource src("abc", 1); // one byte per read
		uint64_t len = 0;
		EXPECT_EQ(tb::sha256_of(src, &len), kAbcDigest);
		EXPECT_EQ(len, 3u);
	}
	{
		MemorySource src(std::string(1000000, 'a'), 4097);
		EXPECT_EQ(tb::sha256_of(src), kMillionADigest); // length pointer is optional
	}
}

TEST(Sha256Of, LargeSourceBeyondItsBuffer) {
	std::string data = random_bytes(5 * 1024 * 1024 + 3, 2);
	MemorySource src(data, 700001);
	uint64_t len = 0;
	EXPECT_EQ(tb::sha256_of(src, &len), sha256_hex(data));
	EXPECT_EQ(len, data.size());
	EXPECT_EQ(src.position(), data.size());
}
