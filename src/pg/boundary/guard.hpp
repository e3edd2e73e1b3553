// The C++/PostgreSQL boundary. Two rules, after pg_duckdb's InvokeCPPFunc/PostgresFunctionGuard:
//
// 1. PostgreSQL -> C++: every SQL-callable function is declared with TB_SQL_FUNCTION, and every
//    callback PostgreSQL makes into our C++ (DestReceiver, COPY data source, transaction
//    callbacks) runs its C++ inside cpp_call(). Both catch every C++ exception, let the C++
//    frames unwind (destructors run: temporary archives are removed), and only then raise the
//    PostgreSQL error, so no exception ever crosses a PostgreSQL frame.
//
// 2. C++ -> PostgreSQL: C++ code that owns objects with destructors calls PostgreSQL only inside
//    pg_call(), which catches a PostgreSQL error (a longjmp) in its own frame and rethrows it as
//    PgError, so no longjmp ever skips a live destructor. The lambda given to pg_call must itself
//    hold no object with a non-trivial destructor while it calls PostgreSQL (plain pointers,
//    palloc'd memory and references to C++ objects outside the lambda are fine).
//
// A PostgreSQL error caught by pg_call is never swallowed: it is rethrown unchanged (SQLSTATE,
// detail, hint) at the entry point, and the transaction aborts as PostgreSQL expects.
#pragma once
#include "pg/boundary/pg_headers.hpp"
#include "pg/boundary/search_path.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

namespace tb::pg {

// A PostgreSQL error caught by pg_call; carries the original ErrorData.
class PgError : public std::exception {
public:
	explicit PgError(ErrorData *edata) : edata_(edata) {}
	const char *what() const noexcept override { return edata_->message ? edata_->message : "PostgreSQL error"; }
	ErrorData *edata() const { return edata_; }

private:
	ErrorData *edata_;
};

// An error our PostgreSQL layer raises with a chosen SQLSTATE (made with MAKE_SQLSTATE/ERRCODE_*).
class SqlError : public std::runtime_error {
public:
	SqlError(int sqlstate, const std::string &message, std::string detail = "", std::string hint = "")
	    : std::runtime_error(message), sqlstate_(sqlstate), detail_(std::move(detail)), hint_(std::move(hint)) {}
	int sqlstate() const { return sqlstate_; }
	const std::string &detail() const { return detail_; }
	const std::string &hint() const { return hint_; }

private:
	int sqlstate_;
	std::string detail_, hint_;
};

namespace detail {
void pg_call_impl(void (*fn)(void *), void *arg);
// Converts the exception being handled into a PostgreSQL error description; call only from a
// catch block. The description lives in palloc'd memory, so no C++ object outlives the catch.
struct CapturedError {
	ErrorData *edata = nullptr; // set for PgError
	int sqlstate = 0;
	char *message = nullptr;
	char *detail = nullptr;
	char *hint = nullptr;
};
void capture_current_exception(CapturedError &out) noexcept;
[[noreturn]] void raise(const CapturedError &err);
// Called with every error leaving cpp_call, before it is raised (set by the audit trail).
extern void (*failure_hook)(const CapturedError &err);
} // namespace detail

// Runs fn (PostgreSQL calls only, see rule 2); a PostgreSQL error becomes a PgError.
template <typename F> void pg_call(F &&fn) {
	using Fn = std::remove_reference_t<F>;
	detail::pg_call_impl([](void *p) { (*static_cast<Fn *>(p))(); }, &fn);
}

// pg_call for a value of a trivially copyable type (Datum, pointers, numbers).
template <typename F> auto pg_eval(F &&fn) {
	using R = decltype(fn());
	static_assert(std::is_trivially_copyable_v<R>, "pg_eval returns only trivially copyable values");
	R result{};
	pg_call([&] { result = fn(); });
	return result;
}

// Runs C++ from a PostgreSQL frame (rule 1); a C++ exception becomes ereport(ERROR).
template <typename F> void cpp_call(F &&fn) {
	detail::CapturedError err;
	bool failed = false;
	try {
		fn();
	} catch (...) {
		detail::capture_current_exception(err);
		failed = true;
	}
	if (failed) {
		if (detail::failure_hook)
			detail::failure_hook(err); // the audit trail's record of a failed action
		detail::raise(err);
	}
}

} // namespace tb::pg

// Declares a SQL-callable function whose body is C++: `TB_SQL_FUNCTION(backup_create) { ... }`.
// The body runs with the search_path pinned (search_path.hpp).
#define TB_SQL_FUNCTION(name)                                                                                          \
	static Datum name##_cpp([[maybe_unused]] FunctionCallInfo fcinfo);                                                 \
	extern "C" {                                                                                                       \
	PG_FUNCTION_INFO_V1(name);                                                                                         \
	Datum name(PG_FUNCTION_ARGS) {                                                                                     \
		Datum result = 0;                                                                                              \
		tb::pg::cpp_call([&] {                                                                                         \
			tb::pg::PinnedSearchPath pinned;                                                                           \
			result = name##_cpp(fcinfo);                                                                               \
		});                                                                                                            \
		return result;                                                                                                 \
	}                                                                                                                  \
	}                                                                                                                  \
	static Datum name##_cpp([[maybe_unused]] FunctionCallInfo fcinfo)
