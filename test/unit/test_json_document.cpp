#include "core/document/json_document.hpp"
#include "core/stream/sha256.hpp"
#include "test_support.hpp"

using tbtest::MemorySource;
using tbtest::throws_kind;
namespace doc = tb::document;

namespace {

// A document as backup_download writes it: the given lines, then the checksum line.
std::string with_checksum(const std::vector<std::string> &lines) {
	std::string body;
	for (const auto &l : lines)
		body += l + "\n";
	tb::Sha256 hash;
	hash.update(tbtest::bytes_of(body), body.size());
	return body + doc::checksum_line(hash.hex_digest()) + "\n";
}

std::vector<std::string> two_tables() {
	return {doc::header_line("{\"id\": 1, \"tenant\": \"acme\"}"),
	        doc::table_start_line("\"schema\": \"public\", \"name\": \"a\", \"columns\": []", true),
	        "{\"x\": 1}",
	        ",{\"x\": 2}",
	        doc::table_end_line(2),
	        doc::table_start_line("\"schema\": \"public\", \"name\": \"b\", \"columns\": []", false),
	        doc::table_end_line(0)};
}

void check(const std::string &text) {
	MemorySource source(text, 5);
	tb::LineReader lines(source, doc::kMaxLineBytes);
	doc::check_document(lines);
}

struct Recorder : doc::DocumentHandler {
	std::vector<std::string> events;
	void header(const std::string &o) override { events.push_back("header " + o); }
	void table(const std::string &o) override { events.push_back("table " + o); }
	void row(const std::string &o) override { events.push_back("row " + o); }
	void table_end(uint64_t rows) override { events.push_back("end " + std::to_string(rows)); }
};

std::vector<std::string> read(const std::string &text) {
	MemorySource source(text, 3);
	tb::LineReader lines(source, doc::kMaxLineBytes);
	Recorder r;
	doc::read_document(lines, r);
	return r.events;
}

} // namespace

TEST(JsonDocument, WrittenLinesHaveTheDocumentedShape) {
	EXPECT_EQ(doc::header_line("{}"), "{\"format\": \"tenant_backup.json\", \"format_version\": 1, \"backup\": {}, "
	                                  "\"tables\": [");
	EXPECT_EQ(doc::table_start_line("\"name\": \"t\"", true), "{\"name\": \"t\", \"rows\": [");
	EXPECT_EQ(doc::table_start_line("\"name\": \"t\"", false), ",{\"name\": \"t\", \"rows\": [");
	EXPECT_EQ(doc::table_end_line(12), "], \"row_count\": 12}");
	EXPECT_EQ(doc::checksum_line(std::string(64, 'a')), "], \"sha256\": \"" + std::string(64, 'a') + "\"}");
}

TEST(JsonDocument, AcceptsAWholeDocumentWithOrWithoutFinalNewline) {
	std::string text = with_checksum(two_tables());
	EXPECT_NO_THROW(check(text));
	EXPECT_NO_THROW(check(text.substr(0, text.size() - 1)));
	// and both read back as the same tables and rows
	EXPECT_EQ(read(text.substr(0, text.size() - 1)), read(text));
	EXPECT_EQ(read(text).size(), 7u); // header, two tables with their ends, two rows
}

TEST(JsonDocument, ReadsTablesAndRowsAsObjects) {
	std::vector<std::string> expected{
	    "header {\"format\": \"tenant_backup.json\", \"format_version\": 1, \"backup\": {\"id\": 1, \"tenant\": "
	    "\"acme\"}}",
	    "table {\"schema\": \"public\", \"name\": \"a\", \"columns\": []}",
	    "row {\"x\": 1}",
	    "row {\"x\": 2}",
	    "end 2",
	    "table {\"schema\": \"public\", \"name\": \"b\", \"columns\": []}",
	    "end 0"};
	EXPECT_EQ(read(with_checksum(two_tables())), expected);
}

TEST(JsonDocument, NoTablesAtAll) {
	std::string text = with_checksum({doc::header_line("{}")});
	check(text);
	EXPECT_EQ(read(text).size(), 1u);
}

TEST(JsonDocument, RefusesWhatIsNotOurs) {
	EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [] { check(""); }));
	EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [] { check("{\"a\": 1}\n"); }));
	EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [] { check("PGDMP binary"); }));
}

TEST(JsonDocument, RefusesTruncatedDocuments) {
	std::string text = with_checksum(two_tables());
	// Every cut that drops the checksum line (or part of it) is caught.
	size_t last_line = text.rfind("], \"sha256\"");
	for (size_t cut : {size_t(40), text.size() / 2, last_line, last_line + 5, text.size() - 3})
		EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { check(text.substr(0, cut)); })) << "cut at " << cut;
}

TEST(JsonDocument, RefusesAlteredDocuments) {
	std::string text = with_checksum(two_tables());
	std::string altered = text;
	altered[altered.find("\"x\": 2") + 5] = '3';
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { check(altered); }));
	// A line removed, or two swapped, changes the checksum as well.
	std::string removed = text;
	removed.erase(removed.find(",{\"x\": 2}\n"), 10);
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { check(removed); }));
	std::string crlf;
	for (char c : text)
		crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
	try {
		check(crlf);
		ADD_FAILURE() << "CR LF document accepted";
	} catch (const tb::Error &e) {
		EXPECT_NE(std::string(e.what()).find("CR LF"), std::string::npos) << e.what();
	}
}

TEST(JsonDocument, RefusesMalformedLayoutEvenWithAValidChecksum) {
	auto layout_error = [](std::vector<std::string> lines) {
		return throws_kind(tb::ErrorKind::Corrupt, [&] { read(with_checksum(lines)); });
	};
	std::vector<std::string> lines = two_tables();
	lines[3] = "{\"x\": 2}"; // second row without its comma
	EXPECT_TRUE(layout_error(lines));
	lines = two_tables();
	lines[2] = ",{\"x\": 1}"; // first row with a comma
	EXPECT_TRUE(layout_error(lines));
	lines = two_tables();
	lines[4] = doc::table_end_line(3); // wrong row count
	EXPECT_TRUE(layout_error(lines));
	lines = two_tables();
	lines[5] = doc::table_start_line("\"name\": \"b\"", true); // second table without its comma
	EXPECT_TRUE(layout_error(lines));
	lines = two_tables();
	lines.pop_back(); // a table left open
	EXPECT_TRUE(layout_error(lines));
	lines = two_tables();
	lines[4] = "], \"row_count\": 02}"; // not a number as we write it
	EXPECT_TRUE(layout_error(lines));
	lines = two_tables();
	lines[0] = "{\"format\": \"tenant_backup.json\", \"backup\": {}"; // header not opening the tables
	EXPECT_TRUE(layout_error(lines));
}

TEST(JsonDocument, RefusesLinesAfterTheChecksum) {
	std::string text = with_checksum(two_tables()) + "extra\n";
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { check(text); }));
}
