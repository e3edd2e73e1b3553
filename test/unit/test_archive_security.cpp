// Authentication of archives: every altered bit, a wrong or missing key, an archive of another
// tenant or backup, and chunks dropped, repeated, reordered or taken from another archive are all
// detected; encrypted archives do not show their contents.
#include "archive_support.hpp"

using namespace tbtest;
using tb::ErrorKind;

namespace {

// Which part of an archive a byte belongs to, for failure messages.
std::string region_of(const RawArchive &raw, size_t pos) {
	if (pos < ar::kFileHeaderSize)
		return "file header";
	if (pos >= raw.footer_offset)
		return "footer";
	for (size_t k = 0; k < raw.chunks.size(); k++) {
		const auto &c = raw.chunks[k];
		if (pos < c.end()) {
			std::string where = pos < c.offset + cr::kChunkHeaderSize              ? "header"
			                    : pos < c.offset + cr::kChunkHeaderSize + c.length ? "data"
			                                                                       : "tag";
			return "chunk " + std::to_string(k) + " " + where;
		}
	}
	return "?";
}

// Flips every bit of file in turn: reading the whole archive must fail with a Corrupt error.
void expect_every_bit_flip_detected(const std::string &file, const ar::ReaderOptions &ro) {
	ASSERT_NO_THROW(read_archive(file, ro));
	RawArchive raw = raw_archive(file);
	std::string bad = file;
	size_t failures = 0;
	for (size_t pos = 0; pos < file.size(); pos++) {
		for (int bit = 0; bit < 8; bit++) {
			bad[pos] = static_cast<char>(file[pos] ^ (1 << bit));
			auto result = throws_kind(ErrorKind::Corrupt, [&] { read_archive(bad, ro); });
			if (!result) {
				ADD_FAILURE() << "bit " << bit << " of byte " << pos << " of " << file.size() << " ("
				              << region_of(raw, pos) << "): " << result.message();
				if (++failures >= 20)
					return;
			}
		}
		bad[pos] = file[pos];
	}
}

std::string chunk_bytes(const std::string &file, const RawChunk &c) {
	return file.substr(c.offset, c.size());
}

// file with its chunks replaced by `chunks` (header and footer kept).
std::string with_chunks(const std::string &file, const RawArchive &raw, const std::vector<std::string> &chunks) {
	std::string out = file.substr(0, ar::kFileHeaderSize);
	for (const auto &c : chunks)
		out += c;
	return out + file.substr(raw.footer_offset);
}

struct Keyed {
	bool compress;
	bool encrypt;
	std::optional<cr::Key> key() const { return encrypt ? std::optional<cr::Key>(test_key(1)) : std::nullopt; }
};

class ArchiveSecurity : public ::testing::TestWithParam<Keyed> {
protected:
	const Keyed &v() const { return GetParam(); }
	std::string write(const ArchiveSpec &spec, uint32_t chunk_size) const {
		return write_archive(spec, writer_options(v().compress, v().key(), chunk_size));
	}
	ar::ReaderOptions reader(const std::string &tenant, uint64_t backup_id = kBackupId) const {
		return reader_options(tenant, v().key(), backup_id);
	}
};

const Keyed kKeyed[] = {{false, true}, {true, true}, {false, false}, {true, false}};

std::string keyed_name(const ::testing::TestParamInfo<Keyed> &info) {
	return std::string(info.param.compress ? "Compressed" : "Uncompressed") +
	       (info.param.encrypt ? "Encrypted" : "Plain");
}

} // namespace

TEST_P(ArchiveSecurity, EveryBitFlipIsDetected) {
	// Without a key, damage to chunk data is caught by the integrity tag; with one, by AES-GCM.
	// Header bits change the associated data of every chunk (or make the header invalid); footer
	// bits make it point elsewhere.
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 200);
	ASSERT_GE(raw_archive(file).chunks.size(), 4u);
	expect_every_bit_flip_detected(file, reader(spec.tenant));
}

TEST_P(ArchiveSecurity, EveryBitFlipOfAZeroTableArchiveIsDetected) {
	ArchiveSpec spec;
	spec.tenant = "t";
	spec.metadata = "{}";
	expect_every_bit_flip_detected(write(spec, 1u << 20), reader(spec.tenant));
}

TEST_P(ArchiveSecurity, OtherTenantIsCorrupt) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 1u << 20);
	for (const std::string &tenant : {std::string("acme-43"), std::string("acme-4"), std::string(""),
	                                  std::string("acme-42 "), std::string("ACME-42")}) {
		try {
			read_archive(file, reader(tenant));
			ADD_FAILURE() << "read as tenant [" << tenant << "]";
		} catch (const tb::Error &e) {
			EXPECT_EQ(e.kind(), ErrorKind::Corrupt) << e.what();
			EXPECT_NE(std::string(e.what()).find("failed authentication"), std::string::npos) << e.what();
		}
	}
}

TEST_P(ArchiveSecurity, OtherBackupIsCorrupt) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 1u << 20);
	try {
		read_archive(file, reader(spec.tenant, 8));
		ADD_FAILURE() << "archive of backup 7 read as backup 8";
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), ErrorKind::Corrupt) << e.what();
		std::string msg = e.what();
		EXPECT_NE(msg.find("backup 7"), std::string::npos) << msg;
		EXPECT_NE(msg.find("backup 8"), std::string::npos) << msg;
	}
}

TEST_P(ArchiveSecurity, ArchiveOfBackup7RelabeledAsBackup8) {
	// Backup 7's bytes stored as backup 8's, with the header's backup id changed to match: the
	// chunks were sealed for backup 7.
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 1u << 20);
	std::string relabeled = file;
	std::string id;
	ar::put_u64(id, 8);
	relabeled.replace(16, 8, id);
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(file, reader(spec.tenant, 8)); }));
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(relabeled, reader(spec.tenant, 8)); }));
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(relabeled, reader(spec.tenant, 0)); }));
}

TEST_P(ArchiveSecurity, ChunkFromAnotherArchiveIsDetected) {
	// Two archives of the same contents, tenant, backup and key: their chunks have the same sizes,
	// yet none can stand in for the other's.
	ArchiveSpec spec = tiny_spec();
	std::string a = write(spec, 128), b = write(spec, 128);
	ASSERT_NE(a, b);
	RawArchive ra = raw_archive(a), rb = raw_archive(b);
	ASSERT_EQ(ra.chunks.size(), rb.chunks.size());
	ASSERT_GE(ra.chunks.size(), 3u);
	for (size_t k = 0; k < ra.chunks.size(); k++) {
		ASSERT_EQ(ra.chunks[k].length, rb.chunks[k].length);
		std::vector<std::string> chunks;
		for (size_t j = 0; j < ra.chunks.size(); j++)
			chunks.push_back(chunk_bytes(j == k ? b : a, j == k ? rb.chunks[j] : ra.chunks[j]));
		std::string mixed = with_chunks(a, ra, chunks);
		ASSERT_EQ(mixed.size(), a.size());
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(mixed, reader(spec.tenant)); }))
		    << "chunk " << k << " of " << ra.chunks.size() << " swapped";
	}
	// Their headers cannot be swapped either.
	std::string b_header_a_chunks = b.substr(0, ar::kFileHeaderSize) + a.substr(ar::kFileHeaderSize);
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(b_header_a_chunks, reader(spec.tenant)); }));
}

TEST_P(ArchiveSecurity, DroppedChunkIsDetected) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 128);
	RawArchive raw = raw_archive(file);
	ASSERT_GE(raw.chunks.size(), 3u);
	for (size_t k = 0; k < raw.chunks.size(); k++) {
		std::vector<std::string> chunks;
		for (size_t j = 0; j < raw.chunks.size(); j++)
			if (j != k)
				chunks.push_back(chunk_bytes(file, raw.chunks[j]));
		std::string bad = with_chunks(file, raw, chunks);
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(bad, reader(spec.tenant)); }))
		    << "chunk " << k << " of " << raw.chunks.size() << " dropped";
	}
}

TEST_P(ArchiveSecurity, ReorderedChunksAreDetected) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 128);
	RawArchive raw = raw_archive(file);
	ASSERT_GE(raw.chunks.size(), 3u);
	std::vector<std::string> original;
	for (const auto &c : raw.chunks)
		original.push_back(chunk_bytes(file, c));
	for (size_t k = 0; k + 1 < raw.chunks.size(); k++) {
		std::vector<std::string> chunks = original;
		std::swap(chunks[k], chunks[k + 1]);
		std::string bad = with_chunks(file, raw, chunks);
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(bad, reader(spec.tenant)); }))
		    << "chunks " << k << " and " << k + 1 << " swapped";
	}
	std::vector<std::string> reversed(original.rbegin(), original.rend());
	std::string bad = with_chunks(file, raw, reversed);
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(bad, reader(spec.tenant)); }));
}

TEST_P(ArchiveSecurity, DuplicatedChunkIsDetected) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 128);
	RawArchive raw = raw_archive(file);
	ASSERT_GE(raw.chunks.size(), 3u);
	for (size_t k = 0; k < raw.chunks.size(); k++) {
		std::vector<std::string> chunks;
		for (size_t j = 0; j < raw.chunks.size(); j++) {
			chunks.push_back(chunk_bytes(file, raw.chunks[j]));
			if (j == k)
				chunks.push_back(chunk_bytes(file, raw.chunks[j]));
		}
		std::string bad = with_chunks(file, raw, chunks);
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(bad, reader(spec.tenant)); }))
		    << "chunk " << k << " of " << raw.chunks.size() << " repeated";
	}
}

TEST_P(ArchiveSecurity, FinalFlagCannotBeMoved) {
	// Marking an earlier chunk final (to pass a truncated archive off as whole) or the final one
	// not final changes the associated data of that chunk.
	ArchiveSpec spec = tiny_spec();
	std::string file = write(spec, 128);
	RawArchive raw = raw_archive(file);
	for (size_t k = 0; k < raw.chunks.size(); k++) {
		std::string bad = file;
		bad[raw.chunks[k].offset] ^= cr::kChunkFinal;
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(bad, reader(spec.tenant)); })) << "chunk " << k;
		if (k + 1 == raw.chunks.size())
			break;
		// Cut after chunk k, marked final, with the footer after it.
		std::string cut = file.substr(0, raw.chunks[k].end()) + file.substr(raw.footer_offset);
		cut[raw.chunks[k].offset] |= cr::kChunkFinal;
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(cut, reader(spec.tenant)); }))
		    << "cut after chunk " << k;
	}
}

INSTANTIATE_TEST_SUITE_P(Archive, ArchiveSecurity, ::testing::ValuesIn(kKeyed), keyed_name);

TEST(ArchiveKeys, WrongKeyFailsAuthentication) {
	ArchiveSpec spec = tiny_spec();
	for (bool compress : {false, true}) {
		std::string file = write_archive(spec, writer_options(compress, test_key(1)));
		ASSERT_NO_THROW(read_archive(file, reader_options(spec.tenant, test_key(1))));
		for (uint8_t seed : {2, 3}) {
			try {
				read_archive(file, reader_options(spec.tenant, test_key(seed)));
				ADD_FAILURE() << "read with a wrong key";
			} catch (const tb::Error &e) {
				EXPECT_EQ(e.kind(), ErrorKind::Corrupt) << e.what();
				std::string msg = e.what();
				EXPECT_NE(msg.find("failed authentication"), std::string::npos) << msg;
				EXPECT_NE(msg.find("chunk 0"), std::string::npos) << msg;
			}
		}
		// A key that differs in one bit is as wrong.
		cr::Key near = test_key(1);
		near[31] ^= 0x80;
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { read_archive(file, reader_options(spec.tenant, near)); }));
	}
}

TEST(ArchiveKeys, MissingKeyIsInvalidInput) {
	ArchiveSpec spec = tiny_spec();
	std::string file = write_archive(spec, writer_options(true, test_key(1)));
	EXPECT_TRUE(throws_kind(ErrorKind::InvalidInput, [&] { read_archive(file, reader_options(spec.tenant)); }));
	// A key_for that cannot find the key: its error is what the reader raises.
	ar::ReaderOptions o = reader_options(spec.tenant);
	o.key_for = [](uint32_t generation) -> cr::Key {
		throw tb::Error(ErrorKind::InvalidInput, "no key of generation " + std::to_string(generation));
	};
	try {
		read_archive(file, o);
		ADD_FAILURE() << "read without its key";
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
		EXPECT_NE(std::string(e.what()).find("generation 3"), std::string::npos) << e.what();
	}
}

TEST(ArchiveKeys, KeyIsNotAskedForAnUnencryptedArchive) {
	// And an unencrypted archive reads the same with a key_for at hand.
	ArchiveSpec spec = tiny_spec();
	std::string file = write_archive(spec, writer_options(true));
	expect_same(spec, read_archive(file, reader_options(spec.tenant, test_key(1))));
}

TEST(ArchiveKeys, EncryptedArchiveHidesItsContents) {
	const std::string canary = "SECRET-CANARY-7f3a9c";
	ArchiveSpec spec;
	spec.tenant = "tenant-canary-51";
	spec.metadata = "{\"note\":\"metadata-canary-2b\"}";
	TableSpec t;
	t.header = table_header("schema_canary", "table_canary", "tenant_col_canary", {{"column_canary", "text"}});
	for (int i = 0; i < 50; i++)
		t.add_batch({{Field(canary + " row " + std::to_string(i))}});
	spec.tables = {t};
	const std::string needles[] = {canary,         "tenant-canary-51",  "metadata-canary-2b", "schema_canary",
	                               "table_canary", "tenant_col_canary", "column_canary"};

	// The control: without a key and without compression every needle is in the file.
	std::string plain = write_archive(spec, writer_options(false, std::nullopt, 4096));
	for (const auto &needle : needles)
		EXPECT_NE(plain.find(needle), std::string::npos) << needle;

	for (uint32_t chunk_size : {7u, 4096u, 1u << 20}) {
		std::string sealed = write_archive(spec, writer_options(false, test_key(1), chunk_size));
		for (const auto &needle : needles) {
			EXPECT_EQ(sealed.find(needle), std::string::npos) << needle << ", chunk size " << chunk_size;
			EXPECT_EQ(sealed.find(needle.substr(0, 8)), std::string::npos) << needle << ", chunk size " << chunk_size;
		}
		expect_same(spec, read_archive(sealed, reader_options(spec.tenant, test_key(1))));
	}
}

TEST(ArchiveKeys, SameInputTwiceGivesDifferentBytes) {
	// A random base nonce per archive: the same rows under the same key never give the same
	// ciphertext (which would let two backups be compared, or a keystream be reused).
	ArchiveSpec spec = small_spec();
	for (bool compress : {false, true}) {
		std::string a = write_archive(spec, writer_options(compress, test_key(1), 4096));
		std::string b = write_archive(spec, writer_options(compress, test_key(1), 4096));
		ASSERT_EQ(a.size(), b.size());
		EXPECT_NE(a, b);
		EXPECT_NE(a.substr(28, 12), b.substr(28, 12)) << "base nonces";
		RawArchive ra = raw_archive(a), rb = raw_archive(b);
		ASSERT_EQ(ra.chunks.size(), rb.chunks.size());
		for (size_t k = 0; k < ra.chunks.size(); k++)
			if (ra.chunks[k].length > 0) {
				EXPECT_NE(chunk_bytes(a, ra.chunks[k]).substr(cr::kChunkHeaderSize),
				          chunk_bytes(b, rb.chunks[k]).substr(cr::kChunkHeaderSize))
				    << "chunk " << k;
			}
		// XOR of the two ciphertexts is not the XOR of equal plaintexts (zero): no keystream reuse.
		const std::string &da = ra.body, &db = rb.body;
		size_t equal = 0;
		for (size_t i = 0; i < da.size(); i++)
			equal += da[i] == db[i];
		EXPECT_LT(equal, da.size() / 64 + 16) << "ciphertexts agree in " << equal << " of " << da.size() << " bytes";
		expect_same(spec, read_archive(a, reader_options(spec.tenant, test_key(1))));
		expect_same(spec, read_archive(b, reader_options(spec.tenant, test_key(1))));
	}
}
