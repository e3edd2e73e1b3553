// The decision to fetch another page of a paginated S3 listing. A server that says a page is
// truncated but gives no continuation token, or gives a token it gave before, would keep a naive
// loop going forever (or, with a cycle, list the same keys again and again): both are errors.
#pragma once
#include <set>
#include <string>

namespace tb {

class S3PageCursor {
public:
	// `what` starts the error messages, e.g. "could not list \"s3://bucket/prefix\"".
	explicit S3PageCursor(std::string what) : what_(std::move(what)) {}

	// Takes one page's IsTruncated and continuation token (ListMultipartUploads: its markers,
	// joined); returns whether another page is to be fetched, with that token. Throws Io.
	bool next_page(bool truncated, const std::string &token);
	int pages() const { return pages_; }

private:
	std::string what_;
	std::set<std::string> seen_; // every token given so far: a cycle of any length is caught
	int pages_ = 0;
};

} // namespace tb
