// C++ work in a subtransaction of its own: when it fails, what it did is rolled back and the
// caller goes on with the rest of its transaction (the scheduler: one job, one repository, one
// discovery pass at a time, so that one bad input does not stop every tenant; backup_verify: a
// value its receive function rejects is a verdict on the archive; a tenant value a type does not
// take).
#pragma once
#include "core/error.hpp"
#include "pg/boundary/guard.hpp"

#include <exception>
#include <optional>
#include <string>

namespace tb::pg {

namespace detail {
struct SubtransactionMark {
	MemoryContext context = nullptr;
	ResourceOwner owner = nullptr;
};
SubtransactionMark begin_subtransaction();
void end_subtransaction(const SubtransactionMark &mark, bool commit);
bool is_cancel(const std::exception_ptr &error);         // PostgreSQL's query cancel, or ErrorKind::Cancelled
std::string error_text(const std::exception_ptr &error); // message (detail)
} // namespace detail

// The one way our C++ runs work in a subtransaction. Runs fn (C++ that calls PostgreSQL through
// pg_call, spi_query, ...) in one: when fn returns, the subtransaction is committed and nullptr
// returned; when fn throws, what it did is rolled back first and then the exception returned,
// for the caller to judge, except a query cancel (PostgreSQL's, or the core's
// ErrorKind::Cancelled), which is rethrown after the rollback. Needs a transaction (and SPI
// connected if fn uses SPI).
template <typename F> std::exception_ptr in_subtransaction(F &&fn) {
	detail::SubtransactionMark mark = detail::begin_subtransaction();
	std::exception_ptr failure;
	try {
		fn();
	} catch (...) {
		failure = std::current_exception();
	}
	detail::end_subtransaction(mark, !failure);
	if (failure && detail::is_cancel(failure))
		std::rethrow_exception(failure);
	return failure;
}

// in_subtransaction for work whose failure is only reported: nullopt when fn succeeded (its
// work stays), otherwise the error's text once its work is rolled back.
template <typename F> std::optional<std::string> try_in_subtransaction(F &&fn) {
	std::exception_ptr failure = in_subtransaction(std::forward<F>(fn));
	if (!failure)
		return std::nullopt;
	return detail::error_text(failure);
}

} // namespace tb::pg
