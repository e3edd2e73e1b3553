#include "pg/boundary/guard.hpp"

#include "core/error.hpp"

#include <exception>
#include <new>

namespace tb::pg::detail {

void (*failure_hook)(const CapturedError &err) = nullptr;

void pg_call_impl(void (*fn)(void *), void *arg) {
	MemoryContext volatile caller_context = CurrentMemoryContext;
	ErrorData *volatile edata = nullptr;
	std::exception_ptr cpp_exception; // fn may also throw C++ (e.g. bad_alloc while copying out)
	PG_TRY();
	{
		try {
			fn(arg);
		} catch (...) {
			cpp_exception = std::current_exception();
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	if (cpp_exception)
		std::rethrow_exception(cpp_exception);
	if (edata)
		throw PgError(edata);
}

namespace {

int sqlstate_for(ErrorKind kind) {
	switch (kind) {
	case ErrorKind::InvalidInput:
		return ERRCODE_INVALID_PARAMETER_VALUE;
	case ErrorKind::Corrupt:
		return ERRCODE_DATA_CORRUPTED;
	case ErrorKind::NotFound:
		return ERRCODE_UNDEFINED_FILE;
	case ErrorKind::Io:
		return ERRCODE_IO_ERROR;
	case ErrorKind::PermissionDenied: // storage refused our credentials (S3 403)
		return ERRCODE_INSUFFICIENT_PRIVILEGE;
	case ErrorKind::Cancelled: // a transfer stopped for a pending cancel or termination
		return ERRCODE_QUERY_CANCELED;
	case ErrorKind::Internal:
		break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

// pstrdup may itself fail; a static fallback keeps the report going.
char *copy_text(const std::string &s) {
	if (s.empty())
		return nullptr;
	char *copy = static_cast<char *>(MemoryContextAllocExtended(ErrorContext, s.size() + 1, MCXT_ALLOC_NO_OOM));
	if (!copy)
		return nullptr;
	memcpy(copy, s.c_str(), s.size() + 1);
	return copy;
}

} // namespace

void capture_current_exception(CapturedError &out) noexcept {
	try {
		throw;
	} catch (const PgError &e) {
		out.edata = e.edata();
	} catch (const SqlError &e) {
		out.sqlstate = e.sqlstate();
		out.message = copy_text(e.what());
		out.detail = copy_text(e.detail());
		out.hint = copy_text(e.hint());
	} catch (const tb::Error &e) {
		out.sqlstate = sqlstate_for(e.kind());
		out.message = copy_text(e.what());
	} catch (const std::bad_alloc &) {
		out.sqlstate = ERRCODE_OUT_OF_MEMORY;
	} catch (const std::exception &e) {
		out.sqlstate = ERRCODE_INTERNAL_ERROR;
		out.message = copy_text(e.what());
	} catch (...) {
		out.sqlstate = ERRCODE_INTERNAL_ERROR;
	}
}

void raise(const CapturedError &err) {
	if (err.edata)
		ReThrowError(err.edata);
	// The core stopped because PostgreSQL asked it to: let PostgreSQL say why (cancel, statement
	// timeout, termination) rather than our generic message.
	if (err.sqlstate == ERRCODE_QUERY_CANCELED)
		CHECK_FOR_INTERRUPTS();
	ereport(ERROR, (errcode(err.sqlstate),
	                errmsg("%s", err.message ? err.message
	                                         : (err.sqlstate == ERRCODE_OUT_OF_MEMORY ? "out of memory"
	                                                                                  : "unexpected C++ exception")),
	                err.detail ? errdetail("%s", err.detail) : 0, err.hint ? errhint("%s", err.hint) : 0));
	pg_unreachable();
}

} // namespace tb::pg::detail
