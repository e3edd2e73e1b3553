// What a restore does after loading a table's rows: move sequences past restored ids.
#pragma once
#include "pg/foreign_keys.hpp"

namespace tb::pg {

// Advances every sequence owned by a column of the table (serial, identity) past the largest value
// the tenant now has in that column; never moves a sequence backwards.
void advance_sequences(const RestoredTable &table);

} // namespace tb::pg
