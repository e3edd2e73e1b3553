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

std::string error_text(const PgError &error) {
	std::string text = error.what();
	if (error.edata()->detail)
		text += " (" + std::string(error.edata()->detail) + ")";
	return text;
}

} // namespace tb::pg::detail
