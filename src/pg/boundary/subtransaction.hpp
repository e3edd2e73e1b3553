// C++ work in a subtransaction of its own: when it fails, what it did is rolled back and the
// caller goes on with the rest of its transaction (the scheduler: one job, one repository, one
// discovery pass at a time, so that one bad input does not stop every tenant).
#pragma once
#include "core/error.hpp"
#include "pg/boundary/guard.hpp"

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
std::string error_text(const PgError &error); // message (detail)
} // namespace detail

// Runs fn (C++ that calls PostgreSQL through pg_call, spi_query, ...) in a subtransaction.
// Returns nullopt when fn succeeded (its work stays), otherwise the error's text once its work
// is rolled back. Whatever fn throws is caught, except a query cancel (PostgreSQL's, or the
// core's ErrorKind::Cancelled), which is rethrown after the rollback. Needs a transaction (and SPI connected if fn uses
// SPI).
template <typename F> std::optional<std::string> try_in_subtransaction(F &&fn) {
	detail::SubtransactionMark mark = detail::begin_subtransaction();
	std::optional<std::string> error;
	try {
		fn();
	} catch (const PgError &e) {
		if (e.edata()->sqlerrcode == ERRCODE_QUERY_CANCELED) {
			detail::end_subtransaction(mark, false);
			throw;
		}
		error = detail::error_text(e);
	} catch (const tb::Error &e) {
		if (e.kind() == tb::ErrorKind::Cancelled) { // the core stopped for a pending cancel
			detail::end_subtransaction(mark, false);
			throw;
		}
		error = std::string(e.what());
	} catch (const std::exception &e) {
		error = std::string(e.what());
	} catch (...) {
		error = std::string("unexpected C++ exception");
	}
	detail::end_subtransaction(mark, !error);
	return error;
}

} // namespace tb::pg
