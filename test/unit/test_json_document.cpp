#include "core/document/json_document.hpp"
#include "core/stream/sha256.hpp"
#include "test_support.hpp"

#include <functional>

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

namespace {

// The message check_document gives, or "" if it accepts the text.
std::string refusal(const std::string &text) {
	try {
		check(text);
	} catch (const tb::Error &e) {
		return e.what();
	}
	return "";
}

// The document as a tool that rewrites lines would leave it.
std::string rewritten(const std::string &text, const std::function<std::string(const std::string &)> &line) {
	std::string out, current;
	for (char c : text) {
		if (c != '\n') {
			current += c;
			continue;
		}
		out += line(current) + "\n";
		current.clear();
	}
	return out;
}

} // namespace

// Issue 19.11: a download that a tool rewrote is refused naming the likely cause.
TEST(JsonDocument, NamesTheLikelyCauseOfARewrittenDownload) {
	std::vector<std::string> lines = two_tables();
	lines[2] = "{\"x\": 1, \"path\": \"C:\\\\temp\"}"; // a backslash, as JSON escapes it
	std::string text = with_checksum(lines);
	ASSERT_EQ(refusal(text), "");

	// CR LF: said at the first line, without reading the rest.
	std::string crlf = rewritten(text, [](const std::string &l) { return l + "\r"; });
	EXPECT_NE(refusal(crlf).find("CR LF"), std::string::npos) << refusal(crlf);
	EXPECT_NE(refusal(crlf.substr(0, crlf.find('\n') + 1)).find("CR LF"), std::string::npos);

	// COPY's text format doubles every backslash.
	std::string copy_text = rewritten(text, [](const std::string &l) {
		std::string out;
		for (char c : l)
			out += c == '\\' ? std::string("\\\\") : std::string(1, c);
		return out;
	});
	EXPECT_NE(refusal(copy_text).find("COPY in text format"), std::string::npos) << refusal(copy_text);
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Corrupt, [&] { check(copy_text); }));

	// COPY's CSV format with the default QUOTE.
	std::string csv = rewritten(text, [](const std::string &l) {
		std::string out = "\"";
		for (char c : l)
			out += c == '"' ? std::string("\"\"") : std::string(1, c);
		return out + "\"";
	});
	EXPECT_NE(refusal(csv).find("COPY in CSV format"), std::string::npos) << refusal(csv);

	// Pretty-printed (the format on the second line) or compacted (on the first) by a JSON tool.
	std::string pretty = "{\n  \"format\": \"tenant_backup.json\",\n  \"format_version\": 1\n}\n";
	EXPECT_NE(refusal(pretty).find("re-serialized by a JSON tool"), std::string::npos) << refusal(pretty);
	std::string compact = "{\"format\":\"tenant_backup.json\",\"format_version\":1,\"tables\":[]}\n";
	EXPECT_NE(refusal(compact).find("re-serialized by a JSON tool"), std::string::npos) << refusal(compact);
	EXPECT_TRUE(throws_kind(tb::ErrorKind::InvalidInput, [&] { check(compact); }));

	// Something else entirely is still "not a tenant_backup download", and a real alteration "altered".
	EXPECT_NE(refusal("{\n\"other\": 1\n}\n").find("not a tenant_backup download"), std::string::npos);
	std::string altered = text;
	altered[altered.find("\"x\": 2") + 5] = '3';
	EXPECT_NE(refusal(altered).find("was altered"), std::string::npos) << refusal(altered);
}
