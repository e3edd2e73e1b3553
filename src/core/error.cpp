#include "core/error.hpp"

#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

void throw_system_error(const std::string &operation, const std::string &object, int errnum) {
	throw Error(errnum == ENOENT ? ErrorKind::NotFound : ErrorKind::Io,
	            "could not " + operation + " \"" + object + "\": " + std::strerror(errnum));
}

} // namespace tb
