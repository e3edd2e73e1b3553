// What a restore does after loading rows: move sequences past restored ids, and check the foreign
// keys that the load (run with triggers off) did not enforce.
#pragma once
#include "pg/restore_plan.hpp"

#include <vector>

namespace tb::pg {

struct RestoredTable {
	TableRestorePlan plan;
	Datum tenant; // tenant value in the type of plan.tenant_type
};

// Advances every sequence owned by a column of the table (serial, identity) past the largest value
// the tenant now has in that column; never moves a sequence backwards.
void advance_sequences(const RestoredTable &table);

// Fails (foreign_key_violation) if a foreign key touching a restored table is broken: rows of a
// restored table are checked for this tenant; rows of other tables that reference a restored table
// are checked in full.
void check_foreign_keys(const std::vector<RestoredTable> &tables, int64 backup_id);

} // namespace tb::pg
