// The one exception type the core throws. Its kind tells the PostgreSQL layer which SQLSTATE to raise.
#pragma once
#include <stdexcept>
#include <string>

namespace tb {

enum class ErrorKind {
	InvalidInput,     // a caller passed something we cannot accept
	Corrupt,          // stored bytes are not a well-formed archive (truncated, altered, not ours)
	NotFound,         // an object that should exist does not
	Io,               // the operating system or a storage service refused a read, write, rename or fsync
	PermissionDenied, // a storage service refused our credentials or access to an object
	Internal,         // a library we call failed in a way that is not the caller's fault
	// The operation stopped because interrupt_requested() (core/net/interrupt.hpp) said so: a
	// query cancel or a termination, not a failure of the storage. Never retried; callers that
	// drop a failing copy must pass it on instead.
	Cancelled,
};

class Error : public std::runtime_error {
public:
	Error(ErrorKind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
	ErrorKind kind() const noexcept { return kind_; }

private:
	ErrorKind kind_;
};

// Throws an Io error naming the operation, the object and errno's text.
[[noreturn]] void throw_system_error(const std::string &operation, const std::string &object, int errnum);

} // namespace tb
