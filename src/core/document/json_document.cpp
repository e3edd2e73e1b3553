#include "core/document/json_document.hpp"

#include "core/error.hpp"
#include "core/stream/sha256.hpp"

#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::document {

namespace {

constexpr const char kTablesSuffix[] = ", \"tables\": [";
constexpr const char kRowsSuffix[] = ", \"rows\": [";
constexpr const char kRowCountPrefix[] = "], \"row_count\": ";
constexpr const char kChecksumPrefix[] = "], \"sha256\": \"";

std::string header_prefix() {
	return std::string("{\"format\": \"") + kFormatName + "\"";
}

bool starts_with(const std::string &s, const char *prefix) {
	return s.compare(0, std::strlen(prefix), prefix) == 0;
}

bool ends_with(const std::string &s, const char *suffix) {
	size_t n = std::strlen(suffix);
	return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

[[noreturn]] void corrupt(uint64_t line, const std::string &what) {
	throw Error(ErrorKind::Corrupt,
	            "the document is not a well-formed tenant_backup download: line " + std::to_string(line) + " " + what);
}

// The hex digest in a checksum line, or "" if the line is not one.
std::string checksum_of(const std::string &line) {
	size_t prefix = std::strlen(kChecksumPrefix);
	if (line.size() != prefix + 64 + 2 || !starts_with(line, kChecksumPrefix) || !ends_with(line, "\"}"))
		return "";
	std::string hex = line.substr(prefix, 64);
	for (char c : hex)
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return "";
	return hex;
}

// "], \"row_count\": N}" -> N; false if the line is not a table's last line.
bool row_count_of(const std::string &line, uint64_t &rows) {
	if (!starts_with(line, kRowCountPrefix) || !ends_with(line, "}"))
		return false;
	std::string digits = line.substr(std::strlen(kRowCountPrefix), line.size() - std::strlen(kRowCountPrefix) - 1);
	if (digits.empty() || digits.size() > 19 || (digits.size() > 1 && digits[0] == '0'))
		return false;
	rows = 0;
	for (char c : digits) {
		if (c < '0' || c > '9')
			return false;
		rows = rows * 10 + static_cast<uint64_t>(c - '0');
	}
	return true;
}

// A table's or row's object from its line: `{...}` first in its array, `,{...}` after.
std::string element(const std::string &line, bool first, uint64_t number, const char *what) {
	size_t start = first ? 0 : 1;
	if (!first && (line.empty() || line[0] != ','))
		corrupt(number, "should start with the comma before " + std::string(what));
	if (line.size() <= start || line[start] != '{')
		corrupt(number, "should hold " + std::string(what) + " as a JSON object");
	return line.substr(start);
}

} // namespace

std::string header_line(const std::string &backup) {
	return header_prefix() + ", \"format_version\": " + std::to_string(kFormatVersion) + ", \"backup\": " + backup +
	       kTablesSuffix;
}

std::string table_start_line(const std::string &table, bool first) {
	return (first ? "{" : ",{") + table + kRowsSuffix;
}

std::string table_end_line(uint64_t rows) {
	return kRowCountPrefix + std::to_string(rows) + "}";
}

std::string checksum_line(const std::string &hex_sha256) {
	return kChecksumPrefix + hex_sha256 + "\"}";
}

namespace {

constexpr const char kCrLf[] = "the document's lines end with CR LF: it was converted to Windows line endings "
                               "(by a text-mode transfer, an editor or a tool such as unix2dos), which changes "
                               "its checksum";

// The line with COPY's text-format escaping undone (every backslash was doubled); false when
// the line cannot have been written that way (a lone backslash).
bool undouble_backslashes(const std::string &line, std::string &out) {
	out.clear();
	for (size_t i = 0; i < line.size(); i++) {
		if (line[i] != '\\') {
			out += line[i];
			continue;
		}
		if (i + 1 == line.size() || line[i + 1] != '\\')
			return false;
		out += '\\';
		i++;
	}
	return true;
}

// Lines read, after a first line that is not our header, to find the format's name in a
// document that a JSON tool rewrote (which may sort the keys: jsonb puts "format" after "backup").
constexpr int kLinesToFindTheFormat = 64;

// Why a document whose first line is not our header is not ours, with the likely cause when the
// document is one of ours that a tool rewrote. Reads at most kLinesToFindTheFormat more lines.
[[noreturn]] void not_ours(const std::string &first, LineReader &lines) {
	auto mentions_format = [](const std::string &line) {
		return line.find(std::string("\"") + kFormatName + "\"") != std::string::npos;
	};
	std::string next;
	bool json_start = !first.empty() && (first[0] == '{' || first[0] == '[');
	if (starts_with(first, "\"{\"\"format\"\""))
		throw Error(ErrorKind::InvalidInput,
		            "the document was written by COPY in CSV format with its default QUOTE, which puts every line "
		            "in double quotes and doubles the quotes inside");
	bool mentioned = json_start && mentions_format(first);
	for (int i = 0; json_start && !mentioned && i < kLinesToFindTheFormat && lines.next(next); i++)
		mentioned = mentions_format(next);
	if (mentioned)
		throw Error(ErrorKind::InvalidInput,
		            "the document is a tenant_backup download re-serialized by a JSON tool (pretty-printed or "
		            "reformatted, e.g. by jq, an editor or json.dump): the import needs the lines exactly as "
		            "backup_download wrote them, one row per line, which its checksum covers");
	throw Error(ErrorKind::InvalidInput,
	            "the document is not a tenant_backup download: it does not start with " + header_prefix());
}

} // namespace

void check_document(LineReader &lines) {
	std::string line, previous;
	if (!lines.next(line))
		throw Error(ErrorKind::InvalidInput, "the document is empty");
	if (!starts_with(line, header_prefix().c_str()))
		not_ours(line, lines);
	if (!line.empty() && line.back() == '\r')
		throw Error(ErrorKind::Corrupt, kCrLf);
	Sha256 hash;
	// The same lines as COPY's text format would have had them before it doubled each backslash:
	// a download written by \copy without FORMAT csv matches this checksum instead.
	Sha256 undoubled_hash;
	bool copy_text = true, doubled = false;
	std::string undoubled;
	uint64_t count = 1;
	for (;;) {
		previous.swap(line);
		if (!lines.next(line))
			break;
		hash.update(reinterpret_cast<const uint8_t *>(previous.data()), previous.size());
		hash.update(reinterpret_cast<const uint8_t *>("\n"), 1);
		if (copy_text && (copy_text = undouble_backslashes(previous, undoubled))) {
			doubled = doubled || undoubled.size() != previous.size();
			undoubled_hash.update(reinterpret_cast<const uint8_t *>(undoubled.data()), undoubled.size());
			undoubled_hash.update(reinterpret_cast<const uint8_t *>("\n"), 1);
		}
		count++;
	}
	// `previous` is now the last line.
	std::string expected = count > 1 ? checksum_of(previous) : "";
	if (expected.empty()) {
		if (!previous.empty() && previous.back() == '\r')
			throw Error(ErrorKind::Corrupt, kCrLf);
		throw Error(ErrorKind::Corrupt, "the document is truncated: its last line (line " + std::to_string(count) +
		                                    ") is not the closing checksum line");
	}
	if (hash.hex_digest() == expected)
		return;
	if (copy_text && doubled && undoubled_hash.hex_digest() == expected)
		throw Error(ErrorKind::Corrupt, "the document was written by COPY in text format (psql's \\copy without "
		                                "FORMAT csv), which doubles every backslash, so its JSON and checksum no "
		                                "longer match");
	throw Error(ErrorKind::Corrupt,
	            "the document was altered: the SHA-256 of its content does not match the checksum it carries");
}

void read_document(LineReader &lines, DocumentHandler &handler) {
	std::string line;
	if (!lines.next(line))
		throw Error(ErrorKind::InvalidInput, "the document is empty");
	if (!starts_with(line, header_prefix().c_str()) || !ends_with(line, kTablesSuffix))
		corrupt(lines.line_number(),
		        "should be the document's opening line, ending with " + std::string(kTablesSuffix));
	handler.header(line.substr(0, line.size() - std::strlen(kTablesSuffix)) + "}");

	bool first_table = true;
	for (;;) {
		if (!lines.next(line))
			corrupt(lines.line_number(), "is the last, but the document does not end there");
		uint64_t number = lines.line_number();
		if (!checksum_of(line).empty()) {
			if (lines.next(line))
				corrupt(lines.line_number(), "follows the closing checksum line");
			return;
		}
		std::string table = element(line, first_table, number, "a table");
		if (!ends_with(table, kRowsSuffix))
			corrupt(number, "should start a table, ending with " + std::string(kRowsSuffix));
		handler.table(table.substr(0, table.size() - std::strlen(kRowsSuffix)) + "}");
		first_table = false;

		uint64_t rows = 0;
		for (;;) {
			if (!lines.next(line))
				corrupt(lines.line_number(), "is the last, but a table is still open");
			uint64_t declared;
			if (row_count_of(line, declared)) {
				if (declared != rows)
					throw Error(ErrorKind::Corrupt, "the document is not consistent: line " +
					                                    std::to_string(lines.line_number()) + " says the table has " +
					                                    std::to_string(declared) + " rows, it holds " +
					                                    std::to_string(rows));
				handler.table_end(rows);
				break;
			}
			handler.row(element(line, rows == 0, lines.line_number(), "a row"));
			rows++;
		}
	}
}

} // namespace tb::document
