#include "archive_support.hpp"

#include "core/archive/copy_binary.hpp"

using namespace tbtest;

namespace {

void expect_same(const ArchiveSpec &spec, const ReadArchive &got) {
	EXPECT_EQ(got.tenant, spec.tenant);
	EXPECT_EQ(got.metadata, spec.metadata);
	ASSERT_EQ(got.tables.size(), spec.tables.size());
	for (size_t i = 0; i < spec.tables.size(); i++) {
		const auto &want = spec.tables[i];
		const auto &have = got.tables[i];
		EXPECT_TRUE(have.header == want.header) << "table " << i << " header";
		EXPECT_EQ(have.header.schema, want.header.schema);
		EXPECT_EQ(have.header.name, want.header.name);
		EXPECT_EQ(have.header.tenant_column, want.header.tenant_column);
		EXPECT_EQ(have.header.columns.size(), want.header.columns.size());
		EXPECT_EQ(have.row_count, want.row_count()) << "table " << i;
		EXPECT_EQ(have.rows.size(), want.all_rows().size()) << "table " << i;
		EXPECT_TRUE(have.rows == want.all_rows()) << "table " << i << " rows differ";
	}
	EXPECT_EQ(got.total_rows, spec.total_rows());
}

class ArchiveRoundTrip : public ::testing::TestWithParam<bool> {
protected:
	bool compressed() const { return GetParam(); }
};

} // namespace

TEST_P(ArchiveRoundTrip, SmallArchive) {
	ArchiveSpec spec = small_spec();
	std::string file = write_archive(spec, compressed());
	expect_same(spec, read_archive(file));
	expect_same(spec, read_archive(file, 1, 1)); // one byte at a time, in and out
	expect_same(spec, read_archive(file, 3, 17));
}

TEST_P(ArchiveRoundTrip, LargeArchiveWithMultiRecordRows) {
	ArchiveSpec spec = large_spec();
	std::string file = write_archive(spec, compressed());
	expect_same(spec, read_archive(file, 65536, 65536));
	expect_same(spec, read_archive(file, 7777, 1001));
	expect_same(spec, read_archive(file, (1 << 20) + 5, (1 << 20) + 3));
	expect_same(spec, read_archive(file, SIZE_MAX, 3 << 20));
}

TEST_P(ArchiveRoundTrip, TuplesKeepTheirFields) {
	ArchiveSpec spec = large_spec();
	ReadArchive got = read_archive(write_archive(spec, compressed()));
	ASSERT_EQ(got.tables.size(), spec.tables.size());

	auto customers = parse_tuples(got.tables[0].rows);
	ASSERT_EQ(customers.size(), 40u);
	for (size_t i = 0; i < customers.size(); i++)
		EXPECT_TRUE(customers[i] == customer_row(i)) << "row " << i;
	EXPECT_FALSE(customers[0][4].has_value()) << "NULL stays NULL";
	ASSERT_TRUE(customers[1][5].has_value()) << "a zero-length value is not NULL";
	EXPECT_EQ(*customers[1][5], "");
	EXPECT_EQ(customers[1][3]->size(), 1u);
	EXPECT_EQ(customers[1][0]->size(), 4u);
	EXPECT_EQ(customers[1][1]->size(), 8u);
	EXPECT_EQ(*customers[1][2], "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");

	EXPECT_TRUE(got.tables[1].rows.empty());
	auto markers = parse_tuples(got.tables[2].rows);
	ASSERT_EQ(markers.size(), 3u);
	EXPECT_TRUE(markers[0].empty());

	auto docs = parse_tuples(got.tables[4].rows);
	ASSERT_EQ(docs.size(), 4u);
	EXPECT_EQ(docs[0][1]->size(), 3500000u);
	EXPECT_EQ(*docs[0][1], random_bytes(3500000, 77));
	EXPECT_EQ(*docs[1][1], "\x01");
	EXPECT_EQ(*docs[2][1], compressible_bytes(2200000));
	EXPECT_FALSE(docs[3][1].has_value());
	EXPECT_FALSE(docs[3][2].has_value());
	EXPECT_EQ(parse_tuples(got.tables[5].rows).size(), 3000u);
}

TEST_P(ArchiveRoundTrip, ZeroTables) {
	ArchiveSpec spec;
	spec.tenant = "t";
	spec.metadata = "{}";
	std::string file = write_archive(spec, compressed());
	ar::ArchiveReader r(memory_source(file));
	EXPECT_EQ(r.tenant(), "t");
	EXPECT_EQ(r.metadata(), "{}");
	EXPECT_FALSE(r.next_table().has_value());
	EXPECT_EQ(r.total_rows(), 0u);
	EXPECT_FALSE(r.next_table().has_value()) << "the end stays the end";
	uint8_t b;
	EXPECT_EQ(r.read_rows(&b, 1), 0u);
}

TEST_P(ArchiveRoundTrip, EmptyTenantAndMetadata) {
	ArchiveSpec spec;
	spec.tables = {empty_table()};
	expect_same(spec, read_archive(write_archive(spec, compressed())));
}

TEST_P(ArchiveRoundTrip, LargeMetadata) {
	ArchiveSpec spec;
	spec.tenant = std::string(1000, 'x');
	spec.metadata = compressible_bytes(3 * 1024 * 1024); // metadata is not limited to a data record
	spec.tables = {customers_table(3)};
	expect_same(spec, read_archive(write_archive(spec, compressed())));
}

TEST_P(ArchiveRoundTrip, OnlyEmptyTables) {
	ArchiveSpec spec;
	spec.tenant = "7";
	spec.tables = {empty_table(), empty_table(), empty_table()};
	spec.tables[1].batches.push_back(""); // an empty append adds nothing
	spec.tables[1].batch_rows.push_back(0);
	ReadArchive got = read_archive(write_archive(spec, compressed()));
	expect_same(spec, got);
	for (const auto &t : got.tables)
		EXPECT_EQ(t.row_count, 0u);
}

TEST_P(ArchiveRoundTrip, NextTableSkipsUnreadRows) {
	ArchiveSpec spec = large_spec();
	std::string file = write_archive(spec, compressed());
	ar::ArchiveReader r(memory_source(file, 4099));
	std::vector<std::string> names;
	uint8_t buf[100];
	size_t index = 0;
	while (auto t = r.next_table()) {
		EXPECT_TRUE(*t == spec.tables[index].header) << "table " << index;
		names.push_back(t->name);
		// Read nothing of even tables and a little of odd ones (a partial data record).
		if (index % 2 == 1 && !spec.tables[index].all_rows().empty()) {
			size_t n = r.read_rows(buf, sizeof(buf));
			ASSERT_GT(n, 0u);
			EXPECT_EQ(std::string(reinterpret_cast<char *>(buf), n), spec.tables[index].all_rows().substr(0, n));
		}
		index++;
	}
	EXPECT_EQ(index, spec.tables.size());
	EXPECT_EQ(r.total_rows(), spec.total_rows());
}

TEST_P(ArchiveRoundTrip, TableRowsAfterEachTable) {
	ArchiveSpec spec = small_spec();
	ar::ArchiveReader r(memory_source(write_archive(spec, compressed())));
	uint8_t buf[4096];
	for (const auto &want : spec.tables) {
		ASSERT_TRUE(r.next_table().has_value());
		while (r.read_rows(buf, sizeof(buf)) > 0) {
		}
		EXPECT_EQ(r.table_rows(), want.row_count()) << want.header.name;
		EXPECT_EQ(r.read_rows(buf, sizeof(buf)), 0u) << "a finished table stays finished";
	}
	EXPECT_FALSE(r.next_table().has_value());
	EXPECT_EQ(r.total_rows(), spec.total_rows());
}

TEST_P(ArchiveRoundTrip, ReadRowsBeforeFirstTableReturnsNothing) {
	ArchiveSpec spec = small_spec();
	ar::ArchiveReader r(memory_source(write_archive(spec, compressed())));
	uint8_t buf[16];
	EXPECT_EQ(r.read_rows(buf, sizeof(buf)), 0u);
	auto t = r.next_table();
	ASSERT_TRUE(t.has_value());
	EXPECT_EQ(t->name, "customers");
}

TEST_P(ArchiveRoundTrip, CompressionLevels) {
	ArchiveSpec spec = small_spec();
	for (int level : {1, 9, 19})
		expect_same(spec, read_archive(write_archive(spec, compressed(), level)));
}

INSTANTIATE_TEST_SUITE_P(Archive, ArchiveRoundTrip, ::testing::Bool(), [](const ::testing::TestParamInfo<bool> &info) {
	return info.param ? "Compressed" : "Uncompressed";
});

TEST(ArchiveFormat, FileHeader) {
	std::string plain = write_archive(small_spec(), false);
	std::string packed = write_archive(small_spec(), true);
	EXPECT_EQ(plain.substr(0, 12), std::string("TNTBKUP\n\x01\x00\x00\x00", 12));
	EXPECT_EQ(packed.substr(0, 12), std::string("TNTBKUP\n\x01\x00\x01\x00", 12));
	EXPECT_EQ(packed.substr(12, 4), std::string("\x28\xb5\x2f\xfd", 4)) << "zstd frame magic";
	EXPECT_LT(packed.size(), plain.size());
}

TEST(ArchiveFormat, RecordLayout) {
	ArchiveSpec spec = large_spec();
	std::string file = write_archive(spec, false);
	auto recs = raw_records(file);
	ASSERT_FALSE(recs.empty());
	EXPECT_EQ(recs.front().type, 'H');
	EXPECT_EQ(recs.back().type, 'Z');
	EXPECT_EQ(recs.back().length, 16u);
	std::string z = file.substr(recs.back().offset + 5, 16);
	EXPECT_EQ(ar::get_le(bytes_of(z), 8), spec.tables.size());
	EXPECT_EQ(ar::get_le(bytes_of(z) + 8, 8), spec.total_rows());

	// Per table: T, then D records no larger than kMaxDataRecord, then E with the row count.
	size_t i = 1;
	for (const auto &t : spec.tables) {
		ASSERT_LT(i, recs.size());
		EXPECT_EQ(recs[i].type, 'T');
		EXPECT_EQ(file.substr(recs[i].offset + 5, recs[i].length), table_payload(t.header));
		i++;
		std::string data;
		size_t data_records = 0;
		while (i < recs.size() && recs[i].type == 'D') {
			EXPECT_LE(recs[i].length, ar::kMaxDataRecord);
			EXPECT_GT(recs[i].length, 0u);
			data += file.substr(recs[i].offset + 5, recs[i].length);
			data_records++;
			i++;
		}
		EXPECT_TRUE(data == t.all_rows()) << t.header.name;
		if (t.header.name == "documents") {
			EXPECT_GE(data_records, 6u) << "5.7 MB of rows take at least six 1 MiB data records";
		}
		ASSERT_LT(i, recs.size());
		EXPECT_EQ(recs[i].type, 'E');
		ASSERT_EQ(recs[i].length, 8u);
		EXPECT_EQ(ar::get_le(bytes_of(file) + recs[i].offset + 5, 8), t.row_count());
		i++;
	}
	EXPECT_EQ(i, recs.size() - 1);
}

TEST(ArchiveFormat, BigAppendIsSplitIntoFullRecords) {
	std::string rows = tuple({random_bytes(3 * ar::kMaxDataRecord + 10, 5)});
	std::string file;
	StringSink sink(file);
	ar::ArchiveWriter w(sink, false);
	w.begin("t", "");
	w.begin_table(table_header("s", "n", "c", {{"c", "bytea"}}));
	w.append_rows(bytes_of(rows), rows.size(), 1);
	w.end_table();
	w.finish();
	auto recs = raw_records(file);
	ASSERT_EQ(recs.size(), 8u); // H T D D D D E Z
	for (int k = 2; k < 5; k++)
		EXPECT_EQ(recs[k].length, ar::kMaxDataRecord);
	EXPECT_EQ(recs[5].length, rows.size() - 3 * ar::kMaxDataRecord);
}

TEST(ArchiveWriter, RowCountsAddUpAcrossAppends) {
	std::string file;
	StringSink sink(file);
	ar::ArchiveWriter w(sink, true);
	w.begin("t", "m");
	w.begin_table(table_header("s", "a", "c", {{"c", "integer"}}));
	std::string one = tuple({be32(1)}), two = tuple({be32(2)}) + tuple({Field()});
	w.append_rows(bytes_of(one), one.size(), 1);
	w.append_rows(bytes_of(two), two.size(), 2);
	w.end_table();
	w.begin_table(table_header("s", "b", "c", {{"c", "integer"}}));
	w.append_rows(bytes_of(one), one.size(), 1);
	w.end_table();
	w.finish();
	ReadArchive got = read_archive(file);
	ASSERT_EQ(got.tables.size(), 2u);
	EXPECT_EQ(got.tables[0].row_count, 3u);
	EXPECT_EQ(got.tables[0].rows, one + two);
	EXPECT_EQ(got.tables[1].row_count, 1u);
	EXPECT_EQ(got.total_rows, 4u);
}

TEST(ArchiveWriter, Misuse) {
	using tb::ErrorKind;
	std::string file;
	StringSink sink(file);
	std::string row = tuple({be32(1)});
	auto table = table_header("s", "t", "c", {{"c", "integer"}});
	{
		ar::ArchiveWriter w(sink, false);
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin_table(table); })) << "before begin";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.append_rows(bytes_of(row), row.size(), 1); }));
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.end_table(); }));
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.finish(); })) << "finish before begin";
		w.begin("t", "");
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin("t", ""); })) << "begin twice";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.append_rows(bytes_of(row), row.size(), 1); }))
		    << "append_rows outside a table";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.end_table(); })) << "end_table outside a table";
		w.begin_table(table);
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin_table(table); })) << "nested table";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.finish(); })) << "finish inside a table";
		w.append_rows(bytes_of(row), row.size(), 1);
		w.end_table();
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.append_rows(bytes_of(row), row.size(), 1); }))
		    << "append_rows after end_table";
		w.finish();
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.begin_table(table); })) << "after finish";
		EXPECT_TRUE(throws_kind(ErrorKind::Internal, [&] { w.finish(); })) << "finish twice";
	}
	EXPECT_EQ(sink.finished(), 1);
	// The misuse left no trace: the archive is the one that was meant.
	ReadArchive got = read_archive(file);
	ASSERT_EQ(got.tables.size(), 1u);
	EXPECT_EQ(got.tables[0].rows, row);
	EXPECT_EQ(got.total_rows, 1u);
}

TEST(ArchiveWriter, OversizedMetadataIsRejected) {
	std::string file;
	StringSink sink(file);
	ar::ArchiveWriter w(sink, false);
	std::string huge(ar::kMaxMetaRecord, 'm');
	EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [&] { w.begin("t", huge); }));
}

TEST(ArchivePipeline, TableRowsThroughFilterAndCopyFrame) {
	// What a restore does: the rows of each table, with dropped columns filtered out, framed as a
	// binary COPY stream.
	ArchiveSpec spec = large_spec();
	for (bool compress : {false, true}) {
		ar::ArchiveReader r(memory_source(write_archive(spec, compress), 5000));
		for (const auto &want : spec.tables) {
			auto t = r.next_table();
			ASSERT_TRUE(t.has_value());
			std::vector<bool> keep;
			for (size_t c = 0; c < t->columns.size(); c++)
				keep.push_back(c % 3 != 1); // drop every third column, starting with the second
			ar::TableRows rows(r);
			ar::TupleFieldFilter filtered(rows, keep);
			ar::CopyBinaryFrame frame(filtered);
			std::string got = read_all(frame, 7919);

			std::string tuples;
			for (const auto &row : parse_tuples(want.all_rows())) {
				std::vector<Field> kept;
				for (size_t c = 0; c < row.size(); c++)
					if (keep[c])
						kept.push_back(row[c]);
				tuples += tuple(kept);
			}
			std::string expected = std::string("PGCOPY\n\377\r\n\0", 11) + std::string(8, '\0') + tuples + "\xff\xff";
			EXPECT_TRUE(got == expected) << want.header.name << ", compressed " << compress;
			EXPECT_EQ(r.table_rows(), want.row_count());
		}
		EXPECT_FALSE(r.next_table().has_value());
		EXPECT_EQ(r.total_rows(), spec.total_rows());
	}
}

TEST(ArchivePipeline, FieldCountMismatchIsCorrupt) {
	// The table header promises two columns, the rows carry one field.
	ArchiveSpec spec;
	TableSpec t;
	t.header = table_header("s", "t", "c", {{"a", "integer"}, {"b", "text"}});
	t.add_batch({{be32(1)}});
	spec.tables = {t};
	ar::ArchiveReader r(memory_source(write_archive(spec, true)));
	auto h = r.next_table();
	ASSERT_TRUE(h.has_value());
	ar::TableRows rows(r);
	ar::TupleFieldFilter filtered(rows, std::vector<bool>(h->columns.size(), true));
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { read_all(filtered); }));
}
