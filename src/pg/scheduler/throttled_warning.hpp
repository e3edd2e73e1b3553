// WARNINGs of the scheduler about problems that persist from pass to pass (a registry that does
// not resolve, a schedule row that no longer parses, no free worker slot): the same message is
// logged once, then again every ten minutes while it lasts, not at every pass.
#pragma once
#include <string>

namespace tb::pg {

void warn_throttled(const std::string &message, const std::string &hint = "");

} // namespace tb::pg
