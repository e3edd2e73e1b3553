// The chunked AES-256-GCM stage on its own, and the key helpers: wrapping, hex parsing, key ids.
#include "core/archive/bytes.hpp"
#include "core/crypto/chunk_cipher.hpp"
#include "core/stream/sha256.hpp"

#include "test_support.hpp"

#include <cctype>
#include <openssl/evp.h>
#include <set>

using namespace tbtest;
using tb::ErrorKind;
namespace cr = tb::crypto;

namespace {

cr::Key key_of(uint8_t seed) {
	cr::Key k;
	for (size_t i = 0; i < k.size(); i++)
		k[i] = static_cast<uint8_t>(seed + i * 13);
	return k;
}

cr::ChunkParams params(std::optional<cr::Key> key, uint32_t chunk_size, const std::string &context = "context",
                       uint64_t first_index = 0) {
	cr::ChunkParams p;
	p.key = key;
	for (size_t i = 0; i < p.base_nonce.size(); i++)
		p.base_nonce[i] = static_cast<uint8_t>(0x30 + i);
	p.context = context;
	p.chunk_size = chunk_size;
	p.first_index = first_index;
	return p;
}

struct Chunk {
	uint8_t flags;
	uint32_t length;
	size_t offset;
};

// The chunk headers of a sealed stream.
std::vector<Chunk> chunks_of(const std::string &sealed) {
	std::vector<Chunk> out;
	size_t pos = 0;
	while (pos < sealed.size()) {
		if (sealed.size() - pos < cr::kChunkHeaderSize + cr::kTagSize) {
			ADD_FAILURE() << "chunk cut at " << pos;
			break;
		}
		uint32_t len = static_cast<uint32_t>(tb::archive::get_le(bytes_of(sealed) + pos + 1, 4));
		out.push_back({uint8_t(sealed[pos]), len, pos});
		pos += cr::kChunkHeaderSize + len + cr::kTagSize;
	}
	EXPECT_EQ(pos, sealed.size());
	return out;
}

// Seals data written in the given pieces; a piece of size 0 stands for boundary().
std::string seal(const cr::ChunkParams &p, const std::string &data, const std::vector<size_t> &pieces = {SIZE_MAX}) {
	std::string out;
	StringSink sink(out);
	cr::ChunkSealSink s(sink, p);
	size_t pos = 0, i = 0;
	while (pos < data.size()) {
		size_t n = std::min(pieces[i++ % pieces.size()], data.size() - pos);
		if (n == 0) {
			s.boundary();
			continue;
		}
		s.write(bytes_of(data) + pos, n);
		pos += n;
	}
	s.finish();
	EXPECT_EQ(sink.finished(), 1);
	return out;
}

std::string open(const cr::ChunkParams &p, const std::string &sealed, size_t source_chunk = SIZE_MAX,
                 size_t read_size = 65536) {
	MemorySource src(sealed, source_chunk);
	cr::ChunkOpenSource o(src, p);
	std::string out = read_all(o, read_size);
	uint8_t b;
	EXPECT_EQ(o.read(&b, 1), 0u) << "the end stays the end";
	return out;
}

// The message of the Corrupt error that opening sealed throws ("" if it does not).
std::string open_error(const cr::ChunkParams &p, const std::string &sealed) {
	try {
		open(p, sealed);
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), ErrorKind::Corrupt) << e.what();
		return e.what();
	}
	return "";
}

std::string hex_of(const cr::Key &k) {
	static const char digits[] = "0123456789abcdef";
	std::string s;
	for (uint8_t b : k) {
		s.push_back(digits[b >> 4]);
		s.push_back(digits[b & 15]);
	}
	return s;
}

} // namespace

TEST(ChunkCipher, RoundTripAtManyChunkSizes) {
	std::string data = random_bytes(10000, 1) + compressible_bytes(5000);
	for (bool encrypt : {false, true})
		for (uint32_t chunk_size : {1u, 7u, 4096u, 1u << 20}) {
			auto key = encrypt ? std::optional<cr::Key>(key_of(1)) : std::nullopt;
			cr::ChunkParams p = params(key, chunk_size);
			std::string sealed = seal(p, data, {3, 1000, 1});
			auto chunks = chunks_of(sealed);
			size_t full = data.size() / chunk_size;
			// Full chunks, then a final one with the rest (empty if the data filled the last chunk).
			ASSERT_EQ(chunks.size(), full + 1) << "chunk size " << chunk_size;
			for (size_t k = 0; k < full; k++) {
				EXPECT_EQ(chunks[k].length, chunk_size);
				EXPECT_EQ(chunks[k].flags, 0);
			}
			EXPECT_EQ(chunks.back().flags, cr::kChunkFinal);
			EXPECT_EQ(chunks.back().length, data.size() % chunk_size);
			EXPECT_EQ(sealed.size(), data.size() + chunks.size() * (cr::kChunkHeaderSize + cr::kTagSize));
			EXPECT_EQ(open(p, sealed), data) << "chunk size " << chunk_size << ", encrypted " << encrypt;
			EXPECT_EQ(open(p, sealed, 3, 5), data) << "chunk size " << chunk_size << ", encrypted " << encrypt;
			// Without a key the data is stored as it is; with one, it is not.
			std::string stored;
			for (const auto &c : chunks)
				stored += sealed.substr(c.offset + cr::kChunkHeaderSize, c.length);
			EXPECT_EQ(stored == data, !encrypt);
		}
}

// AES-256-GCM decryption straight through OpenSSL, independent of the code under test.
bool reference_gcm_open(const cr::Key &key, const cr::Nonce &nonce, const std::string &aad, const std::string &ct,
                        const std::string &tag, std::string &plain) {
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;
	plain.assign(ct.size(), '\0');
	bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) == 1 &&
	          EVP_DecryptUpdate(ctx, nullptr, &n, bytes_of(aad), int(aad.size())) == 1 &&
	          (ct.empty() || EVP_DecryptUpdate(ctx, reinterpret_cast<uint8_t *>(plain.data()), &n, bytes_of(ct),
	                                           int(ct.size())) == 1) &&
	          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, const_cast<char *>(tag.data())) == 1 &&
	          EVP_DecryptFinal_ex(ctx, reinterpret_cast<uint8_t *>(plain.data()) + n, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

TEST(ChunkCipher, MatchesTheDocumentedConstruction) {
	// Each chunk opens on its own with nonce = base nonce XOR index (big-endian, in the last 8
	// bytes) and associated data = context || index:u64le || flags; without a key its tag is the
	// first 16 bytes of SHA-256(associated data || data).
	const std::string data = std::string(64, '\0') + "the end";
	for (bool encrypt : {false, true}) {
		auto key = encrypt ? std::optional<cr::Key>(key_of(20)) : std::nullopt;
		cr::ChunkParams p = params(key, 16, "ctx", 0x0102030405);
		std::string sealed = seal(p, data);
		auto chunks = chunks_of(sealed);
		ASSERT_EQ(chunks.size(), 5u);
		std::set<std::string> distinct;
		std::string opened;
		for (size_t k = 0; k < chunks.size(); k++) {
			uint64_t index = p.first_index + k;
			std::string aad = "ctx";
			tb::archive::put_u64(aad, index);
			aad.push_back(static_cast<char>(chunks[k].flags));
			std::string ct = sealed.substr(chunks[k].offset + cr::kChunkHeaderSize, chunks[k].length);
			std::string tag = sealed.substr(chunks[k].offset + cr::kChunkHeaderSize + chunks[k].length, cr::kTagSize);
			distinct.insert(ct);
			if (encrypt) {
				cr::Nonce nonce = p.base_nonce;
				for (int i = 0; i < 8; i++)
					nonce[cr::kNonceSize - 1 - i] ^= static_cast<uint8_t>(index >> (8 * i));
				std::string plain;
				ASSERT_TRUE(reference_gcm_open(*key, nonce, aad, ct, tag, plain)) << "chunk " << k;
				opened += plain;
			} else {
				tb::Sha256 h;
				h.update(bytes_of(aad), aad.size());
				h.update(bytes_of(ct), ct.size());
				auto digest = h.digest();
				EXPECT_EQ(tag, std::string(reinterpret_cast<const char *>(digest.data()), cr::kTagSize))
				    << "chunk " << k;
				opened += ct;
			}
		}
		EXPECT_EQ(opened, data);
		// Four chunks of zeros: with a key, each under its own nonce, so no two ciphertexts agree.
		EXPECT_EQ(distinct.size(), encrypt ? 5u : 2u);
	}
}

TEST(ChunkCipher, BoundaryClosesAChunkEarly) {
	for (bool encrypt : {false, true}) {
		auto key = encrypt ? std::optional<cr::Key>(key_of(2)) : std::nullopt;
		cr::ChunkParams p = params(key, 10);
		std::string out;
		StringSink sink(out);
		cr::ChunkSealSink s(sink, p);
		EXPECT_EQ(s.next_index(), 0u);
		s.boundary(); // nothing buffered: no chunk
		EXPECT_EQ(s.next_index(), 0u);
		EXPECT_TRUE(out.empty());
		s.write(bytes_of("abc"), 3);
		s.boundary();
		EXPECT_EQ(s.next_index(), 1u);
		s.boundary(); // twice in a row: still one chunk
		EXPECT_EQ(s.next_index(), 1u);
		s.write(bytes_of("0123456789xy"), 12);
		EXPECT_EQ(s.next_index(), 2u) << "a full chunk is sealed as soon as it is full";
		s.boundary();
		EXPECT_EQ(s.next_index(), 3u);
		s.write(bytes_of("z"), 1);
		s.finish();
		EXPECT_EQ(s.next_index(), 4u);
		auto chunks = chunks_of(out);
		ASSERT_EQ(chunks.size(), 4u);
		EXPECT_EQ(chunks[0].length, 3u);
		EXPECT_EQ(chunks[1].length, 10u);
		EXPECT_EQ(chunks[2].length, 2u);
		EXPECT_EQ(chunks[3].length, 1u);
		EXPECT_EQ(chunks[3].flags, cr::kChunkFinal);
		EXPECT_EQ(sink.boundaries().size(), 4u) << "boundary() is passed on down the chain";
		EXPECT_EQ(open(p, out), "abc0123456789xyz");
	}
}

TEST(ChunkCipher, EmptyFinalChunk) {
	for (bool encrypt : {false, true}) {
		auto key = encrypt ? std::optional<cr::Key>(key_of(3)) : std::nullopt;
		cr::ChunkParams p = params(key, 8);
		// Nothing at all: one empty final chunk.
		std::string empty = seal(p, "");
		auto chunks = chunks_of(empty);
		ASSERT_EQ(chunks.size(), 1u);
		EXPECT_EQ(chunks[0].length, 0u);
		EXPECT_EQ(chunks[0].flags, cr::kChunkFinal);
		EXPECT_EQ(open(p, empty), "");
		EXPECT_TRUE(open_error(p, "").find("truncated") != std::string::npos) << "no final chunk is no stream";
		// Exactly one chunk's worth: a full chunk, then an empty final one.
		std::string exact = seal(p, "12345678");
		chunks = chunks_of(exact);
		ASSERT_EQ(chunks.size(), 2u);
		EXPECT_EQ(chunks[0].flags, 0);
		EXPECT_EQ(chunks[1].length, 0u);
		EXPECT_EQ(chunks[1].flags, cr::kChunkFinal);
		EXPECT_EQ(open(p, exact), "12345678");
		// Without the empty final chunk the stream is truncated.
		EXPECT_NE(open_error(p, exact.substr(0, chunks[1].offset)).find("chunk 1"), std::string::npos);
		// After a boundary, finish() seals an empty final chunk too.
		std::string out;
		StringSink sink(out);
		cr::ChunkSealSink s(sink, p);
		s.write(bytes_of("ab"), 2);
		s.boundary();
		s.finish();
		chunks = chunks_of(out);
		ASSERT_EQ(chunks.size(), 2u);
		EXPECT_EQ(chunks[1].length, 0u);
		EXPECT_EQ(open(p, out), "ab");
	}
}

TEST(ChunkCipher, NothingIsReadAfterTheFinalChunk) {
	cr::ChunkParams p = params(key_of(4), 16);
	std::string sealed = seal(p, random_bytes(100, 4));
	MemorySource src(sealed + "FOOTER-FOLLOWS");
	cr::ChunkOpenSource o(src, p);
	EXPECT_EQ(read_all(o).size(), 100u);
	EXPECT_EQ(src.position(), sealed.size()) << "what follows the final chunk is left for the caller";
}

TEST(ChunkCipher, ErrorsNameTheChunk) {
	for (bool encrypt : {false, true}) {
		auto key = encrypt ? std::optional<cr::Key>(key_of(5)) : std::nullopt;
		cr::ChunkParams p = params(key, 16);
		std::string sealed = seal(p, random_bytes(100, 5)); // chunks 0..6, 6 final
		auto chunks = chunks_of(sealed);
		ASSERT_EQ(chunks.size(), 7u);
		for (size_t k = 0; k < chunks.size(); k++) {
			std::string bad = sealed;
			bad[chunks[k].offset + cr::kChunkHeaderSize] ^= 1; // data, or the tag of the empty chunk
			std::string msg = open_error(p, bad);
			EXPECT_NE(msg.find("failed authentication"), std::string::npos) << msg;
			EXPECT_NE(msg.find("(chunk " + std::to_string(k) + ")"), std::string::npos) << msg;
		}
		// Truncation inside a chunk's header, data or tag, and before the final chunk.
		EXPECT_NE(open_error(p, sealed.substr(0, chunks[3].offset + 2)).find("chunk 3"), std::string::npos);
		EXPECT_NE(open_error(p, sealed.substr(0, chunks[3].offset + 9)).find("chunk 3"), std::string::npos);
		EXPECT_NE(open_error(p, sealed.substr(0, chunks[4].offset - 1)).find("chunk 3"), std::string::npos);
		std::string msg = open_error(p, sealed.substr(0, chunks[4].offset));
		EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
		EXPECT_NE(msg.find("chunk 4"), std::string::npos) << msg;
		// Unknown chunk flags, and a length over the limit.
		std::string bad = sealed;
		bad[chunks[2].offset] = 2;
		EXPECT_NE(open_error(p, bad).find("chunk 2"), std::string::npos);
		bad = sealed;
		std::string len;
		tb::archive::put_u32(len, cr::kMaxChunkSize + 1);
		bad.replace(chunks[2].offset + 1, 4, len);
		EXPECT_NE(open_error(p, bad).find("chunk 2"), std::string::npos);
		// Indexes start at first_index, on both sides.
		cr::ChunkParams later = params(key, 16, "context", 1000);
		std::string sealed_later = seal(later, random_bytes(100, 5));
		EXPECT_EQ(open(later, sealed_later), random_bytes(100, 5));
		EXPECT_NE(open_error(p, sealed_later).find("chunk 0"), std::string::npos) << "sealed as chunks 1000...";
		bad = sealed_later;
		bad[chunks[2].offset + cr::kChunkHeaderSize] ^= 1;
		EXPECT_NE(open_error(later, bad).find("(chunk 1002)"), std::string::npos);
	}
}

TEST(ChunkCipher, ChunksAreBoundToKeyContextIndexAndNonce) {
	std::string data = random_bytes(50, 6);
	for (bool encrypt : {false, true}) {
		auto key = encrypt ? std::optional<cr::Key>(key_of(6)) : std::nullopt;
		cr::ChunkParams p = params(key, 16);
		std::string sealed = seal(p, data);
		ASSERT_EQ(open(p, sealed), data);
		cr::ChunkParams other_context = params(key, 16, "context2");
		EXPECT_NE(open_error(other_context, sealed), "");
		cr::ChunkParams other_nonce = p;
		other_nonce.base_nonce[11] ^= 1;
		if (encrypt) {
			EXPECT_NE(open_error(other_nonce, sealed), "") << "the nonce is part of AES-GCM";
		}
		if (encrypt) {
			EXPECT_NE(open_error(params(key_of(7), 16), sealed), "") << "another key";
			EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { open(params(std::nullopt, 16), sealed); }))
			    << "encrypted chunks opened without a key";
		} else {
			EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { open(params(key_of(7), 16), sealed); }))
			    << "integrity-only chunks opened with a key";
		}
		cr::ChunkParams shifted = params(key, 16, "context", 1);
		EXPECT_NE(open_error(shifted, sealed), "") << "another first index";
	}
}

TEST(ChunkCipher, EveryBitFlipIsDetected) {
	for (bool encrypt : {false, true}) {
		auto key = encrypt ? std::optional<cr::Key>(key_of(8)) : std::nullopt;
		cr::ChunkParams p = params(key, 9);
		std::string sealed = seal(p, "a short stream of some thirty bytes", {5, 0, 11});
		for (size_t pos = 0; pos < sealed.size(); pos++)
			for (int bit = 0; bit < 8; bit++) {
				std::string bad = sealed;
				bad[pos] ^= static_cast<char>(1 << bit);
				ASSERT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { open(p, bad); }))
				    << "bit " << bit << " of byte " << pos << ", encrypted " << encrypt;
			}
	}
}

TEST(ChunkCipher, InvalidChunkSize) {
	std::string out;
	StringSink sink(out);
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { cr::ChunkSealSink s(sink, params(std::nullopt, 0)); }));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput,
	                        [&] { cr::ChunkSealSink s(sink, params(key_of(1), cr::kMaxChunkSize + 1)); }));
	EXPECT_NO_THROW(cr::ChunkSealSink(sink, params(key_of(1), cr::kMaxChunkSize)));
}

TEST(RandomBytes, FillsAndDiffers) {
	std::vector<uint8_t> a(64), b(64);
	cr::random_bytes(a.data(), a.size());
	cr::random_bytes(b.data(), b.size());
	EXPECT_NE(a, b);
	EXPECT_NE(a, std::vector<uint8_t>(64, 0));
	cr::random_bytes(nullptr, 0);
}

TEST(KeyWrap, RoundTrip) {
	cr::Key master = key_of(10), data_key = key_of(11);
	auto wrapped = cr::wrap_key(master, data_key, "tenant 42 generation 1");
	EXPECT_EQ(wrapped.size(), cr::kNonceSize + cr::kKeySize + cr::kTagSize);
	EXPECT_EQ(cr::unwrap_key(master, wrapped, "tenant 42 generation 1"), data_key);
	// The data key does not appear in the wrapped form, and wrapping twice gives other bytes.
	std::string w(wrapped.begin(), wrapped.end());
	EXPECT_EQ(w.find(std::string(data_key.begin(), data_key.begin() + 8)), std::string::npos);
	auto again = cr::wrap_key(master, data_key, "tenant 42 generation 1");
	EXPECT_NE(wrapped, again);
	EXPECT_EQ(cr::unwrap_key(master, again, "tenant 42 generation 1"), data_key);
	// An empty context is a context too.
	EXPECT_EQ(cr::unwrap_key(master, cr::wrap_key(master, data_key, ""), ""), data_key);
}

TEST(KeyWrap, WrongMasterKeyOrContextIsInvalidInput) {
	cr::Key master = key_of(12), data_key = key_of(13);
	auto wrapped = cr::wrap_key(master, data_key, "ctx");
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { cr::unwrap_key(key_of(14), wrapped, "ctx"); }));
	cr::Key near = master;
	near[0] ^= 1;
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { cr::unwrap_key(near, wrapped, "ctx"); }));
	for (const std::string ctx : {"", "ctx ", "Ctx", "ctx2", "tenant_backup key wrap\nctx"})
		EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { cr::unwrap_key(master, wrapped, ctx); })) << ctx;
	try {
		cr::unwrap_key(key_of(14), wrapped, "ctx");
	} catch (const tb::Error &e) {
		EXPECT_NE(std::string(e.what()).find("wrong master key"), std::string::npos) << e.what();
	}
}

TEST(KeyWrap, TamperedWrappedKeyThrows) {
	cr::Key master = key_of(15), data_key = key_of(16);
	auto wrapped = cr::wrap_key(master, data_key, "ctx");
	for (size_t pos = 0; pos < wrapped.size(); pos++)
		for (int bit = 0; bit < 8; bit++) {
			auto bad = wrapped;
			bad[pos] ^= static_cast<uint8_t>(1 << bit);
			ASSERT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { cr::unwrap_key(master, bad, "ctx"); }))
			    << "bit " << bit << " of byte " << pos;
		}
	for (size_t len : {size_t(0), size_t(1), wrapped.size() - 1, wrapped.size() + 1}) {
		auto bad = wrapped;
		bad.resize(len);
		bool threw = false;
		try {
			cr::unwrap_key(master, bad, "ctx");
		} catch (const tb::Error &) {
			threw = true;
		}
		EXPECT_TRUE(threw) << "wrapped key of " << len << " bytes";
	}
}

TEST(ParseHexKey, AcceptsSixtyFourHexCharacters) {
	cr::Key k = key_of(17);
	std::string hex = hex_of(k);
	ASSERT_EQ(hex.size(), 64u);
	EXPECT_EQ(cr::parse_hex_key(hex, "key"), k);
	std::string upper = hex;
	for (auto &c : upper)
		c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	EXPECT_EQ(cr::parse_hex_key(upper, "key"), k);
	EXPECT_EQ(cr::parse_hex_key(hex + "\n", "key"), k) << "as a key file ends";
	EXPECT_EQ(cr::parse_hex_key("  \t" + hex + " \r\n", "key"), k);
	EXPECT_EQ(cr::parse_hex_key("\n" + hex + "\n\n", "key"), k);
	cr::Key zero{};
	EXPECT_EQ(cr::parse_hex_key(std::string(64, '0'), "key"), zero);
	cr::Key ones;
	ones.fill(0xff);
	EXPECT_EQ(cr::parse_hex_key(std::string(64, 'f'), "key"), ones);
	cr::Key seq;
	for (size_t i = 0; i < seq.size(); i++)
		seq[i] = static_cast<uint8_t>(i);
	EXPECT_EQ(cr::parse_hex_key("000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F", "key"), seq);
}

TEST(ParseHexKey, RejectsOtherLengthsAndCharacters) {
	std::string hex = hex_of(key_of(18));
	const std::string bad[] = {"",
	                           hex.substr(0, 63),
	                           hex + "0",
	                           hex.substr(0, 62),
	                           hex + hex,
	                           hex.substr(0, 63) + "g",
	                           "0x" + hex.substr(2),
	                           hex.substr(0, 63) + "-",
	                           hex.substr(0, 32) + "." + hex.substr(33),
	                           std::string(64, 'z'),
	                           hex.substr(0, 63) + std::string(1, '\0'),
	                           hex.substr(0, 63) + "\xc3\xa9"};
	for (const auto &text : bad) {
		try {
			cr::parse_hex_key(text, "tenant_backup.master_key_file");
			ADD_FAILURE() << "accepted [" << text << "]";
		} catch (const tb::Error &e) {
			EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
			EXPECT_NE(std::string(e.what()).find("tenant_backup.master_key_file"), std::string::npos)
			    << "the message names where the key came from: " << e.what();
		}
	}
}

TEST(KeyId, StableShortAndDistinct) {
	cr::Key a = key_of(19), b = key_of(19);
	b[31] ^= 1;
	std::string id = cr::key_id(a);
	EXPECT_EQ(id.size(), 16u);
	EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
	EXPECT_EQ(cr::key_id(a), id) << "stable";
	EXPECT_EQ(cr::key_id(key_of(19)), id);
	EXPECT_NE(cr::key_id(b), id) << "one bit of key changes the id";
	EXPECT_EQ(hex_of(a).find(id), std::string::npos) << "the id is not a piece of the key";
	std::set<std::string> ids;
	for (int seed = 0; seed < 200; seed++)
		ids.insert(cr::key_id(key_of(static_cast<uint8_t>(seed))));
	EXPECT_EQ(ids.size(), 200u);
}
