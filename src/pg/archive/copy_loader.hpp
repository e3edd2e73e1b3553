// Loads a binary COPY stream into a table with COPY FROM's own machinery (BeginCopyFrom with a
// data source callback, CopyFrom): the same fast path, defaults and partition routing as COPY.
#pragma once
#include "core/stream/stream.hpp"
#include "pg/boundary/pg_headers.hpp"

#include <string>
#include <vector>

namespace tb::pg {

// columns: the fields of each tuple, in order; other columns get their defaults. Refuses a Citus
// table (its rows would land in the coordinator's shell table): see load_into_citus. Needs SPI.
uint64 copy_into(Oid relid, const std::vector<std::string> &columns, Source &copy_stream);

} // namespace tb::pg
