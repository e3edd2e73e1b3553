// Rows of a set-returning SQL function given as text, converted by the result columns' input
// functions (as if the values were SQL literals).
#pragma once
#include "pg/boundary/pg_headers.hpp"
#include "pg/boundary/spi.hpp"

namespace tb::pg {

class SrfRows {
public:
	// Starts a materialized result (InitMaterializedSRF).
	explicit SrfRows(FunctionCallInfo fcinfo);
	// One row; values.size() must equal the number of result columns, NULL as nullopt.
	void add(const SqlRow &values);

private:
	ReturnSetInfo *rsinfo_ = nullptr;
	AttInMetadata *metadata_ = nullptr;
};

} // namespace tb::pg
