// Type names as archives record them. This version records format_type() under the pinned
// search_path (search_path.hpp), so every type outside pg_catalog is schema-qualified and means
// the same to every reader. Archives of 0.1.0 recorded format_type() under their caller's path:
// an unqualified name that pg_catalog does not have is looked up on the reader's path, as 0.1.0
// did (the only information such an archive holds).
#pragma once
#include "pg/pg_headers.hpp"

#include <string>

namespace tb::pg {

// The type and typmod of an archived type name; a clear error when no such type exists.
void resolve_archived_type(const std::string &name, Oid *typid, int32 *typmod);

// The archived name as this version writes it (qualified), for comparing with format_type() of
// a current column; the name unchanged when no such type exists now.
std::string current_name_of_archived_type(const std::string &name);

} // namespace tb::pg
