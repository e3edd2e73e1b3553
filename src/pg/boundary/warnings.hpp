// WARNINGs from C++ code: the one way our layer tells the caller (or the server log) about
// something that did not stop the work.
#pragma once

#include <string>

namespace tb::pg {

// Reports a WARNING with this message and, unless empty, this hint. Calls PostgreSQL through
// pg_call (a failure to report, e.g. out of memory, becomes a PgError).
void warn(const std::string &message, const std::string &hint = "");
// The same as a NOTICE: something the caller should know that is not a problem.
// (and, unless empty, a hint).
void notice(const std::string &message, const std::string &hint = "");
// A message at any elevel below ERROR (LOG, DEBUG1, ...): for the server log, or a client that asks.
void log_message(int level, const std::string &message);

} // namespace tb::pg
