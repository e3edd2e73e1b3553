// Arguments of SQL-callable functions, read in TB_SQL_FUNCTION bodies: NULLs and bounds give a
// clear error (SqlError) before any work is done.
#pragma once
#include "pg/boundary/pg_headers.hpp"

#include <optional>
#include <string>

namespace tb::pg {

// A text argument; nullopt for NULL.
std::optional<std::string> arg_text(FunctionCallInfo fcinfo, int n);
// A bigint argument that must not be NULL (`name` is the error's).
int64 arg_int64(FunctionCallInfo fcinfo, int n, const char *name);
// A text argument that must not be NULL or empty, at most max_bytes long.
std::string required_text_arg(FunctionCallInfo fcinfo, int n, const char *name, size_t max_bytes);
// A text argument checked against max_bytes (and emptiness, unless allow_empty) before it is
// detoasted or copied, so that a 100 MB argument costs no more than its check. nullopt for NULL.
std::optional<std::string> bounded_text_arg(FunctionCallInfo fcinfo, int n, const char *name, size_t max_bytes,
                                            bool allow_empty);
// Rejects values our functions will not take: too long (> max_bytes) or empty when !allow_empty.
void check_text_arg(const std::string &value, const char *name, size_t max_bytes, bool allow_empty);

} // namespace tb::pg
