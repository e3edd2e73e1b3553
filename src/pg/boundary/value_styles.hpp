// The settings a value's text form depends on, pinned while a restore converts a column whose type
// changed since the backup (column_mapping.hpp converts through text I/O or assignment casts): the
// same backup then converts the same way in every session, in an asynchronous job's worker and in
// the scheduler's drills as in the caller's session. DateStyle ISO, MDY, IntervalStyle postgres,
// extra_float_digits 1 (shortest exact floats) and bytea_output hex, as pg_dump pins them. TimeZone
// is left as it is: a timestamp converted to timestamptz takes the session's zone, as ALTER
// COLUMN ... TYPE does (docs/REFERENCE.md, "Schema drift").
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

// While alive: those settings, in a GUC nest level of its own (ended as end_guc_level ends ours).
class PinnedValueStyles {
public:
	PinnedValueStyles();
	~PinnedValueStyles();
	PinnedValueStyles(const PinnedValueStyles &) = delete;
	PinnedValueStyles &operator=(const PinnedValueStyles &) = delete;

private:
	int exceptions_at_entry_ = 0;
	int guc_level_ = 0;
};

} // namespace tb::pg
