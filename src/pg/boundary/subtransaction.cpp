#include "pg/boundary/subtransaction.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/resowner.h"
}

namespace tb::pg::detail {

SubtransactionMark begin_subtransaction() {
	SubtransactionMark mark;
	pg_call([&mark] {
		mark.context = CurrentMemoryContext;
		mark.owner = CurrentResourceOwner;
		BeginInternalSubTransaction(nullptr);
		MemoryContextSwitchTo(mark.context); // allocations outlive the subtransaction, as in PL/pgSQL
	});
	return mark;
}

void end_subtransaction(const SubtransactionMark &mark, bool commit) {
	pg_call([&mark, commit] {
		if (commit)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mark.context);
		CurrentResourceOwner = mark.owner;
	});
}

bool is_cancel(const std::exception_ptr &error) {
	try {
		std::rethrow_exception(error);
	} catch (const PgError &e) {
		return e.edata()->sqlerrcode == ERRCODE_QUERY_CANCELED;
	} catch (const tb::Error &e) {
		return e.kind() == tb::ErrorKind::Cancelled; // the core stopped for a pending cancel
	} catch (...) {
		return false;
	}
}

std::string error_text(const std::exception_ptr &error) {
	try {
		std::rethrow_exception(error);
	} catch (const PgError &e) {
		std::string text = e.what();
		if (e.edata()->detail)
			text += " (" + std::string(e.edata()->detail) + ")";
		return text;
	} catch (const std::exception &e) {
		return e.what();
	} catch (...) {
		return "unexpected C++ exception";
	}
}

} // namespace tb::pg::detail
