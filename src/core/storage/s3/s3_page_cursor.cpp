#include "core/storage/s3/s3_page_cursor.hpp"

#include "core/error.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

bool S3PageCursor::next_page(bool truncated, const std::string &token) {
	pages_++;
	if (!truncated)
		return false;
	const std::string where = what_ + ": the server's answer to page " + std::to_string(pages_);
	if (token.empty())
		throw Error(ErrorKind::Io, where + " says the listing is truncated but gives no continuation token");
	if (!seen_.insert(token).second)
		throw Error(ErrorKind::Io, where + " repeats an earlier continuation token (the listing would never end)");
	return true;
}

} // namespace tb
