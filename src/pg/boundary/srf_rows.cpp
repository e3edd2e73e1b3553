#include "pg/boundary/srf_rows.hpp"

#include "pg/boundary/guard.hpp"

#include <vector>

namespace tb::pg {

SrfRows::SrfRows(FunctionCallInfo fcinfo) {
	pg_call([&] {
		InitMaterializedSRF(fcinfo, 0);
		rsinfo_ = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
		metadata_ = TupleDescGetAttInMetadata(rsinfo_->setDesc);
	});
}

void SrfRows::add(const SqlRow &values) {
	std::vector<char *> cells(values.size());
	for (size_t i = 0; i < values.size(); i++)
		cells[i] = values[i] ? const_cast<char *>(values[i]->c_str()) : nullptr;
	char **raw = cells.data();
	size_t count = cells.size();
	pg_call([=] {
		if (static_cast<size_t>(rsinfo_->setDesc->natts) != count)
			elog(ERROR, "tenant_backup: result row has %zu values for %d columns", count, rsinfo_->setDesc->natts);
		HeapTuple tuple = BuildTupleFromCStrings(metadata_, raw);
		tuplestore_puttuple(rsinfo_->setResult, tuple);
		heap_freetuple(tuple);
	});
}

} // namespace tb::pg
