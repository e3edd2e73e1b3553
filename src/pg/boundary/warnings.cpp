#include "pg/boundary/warnings.hpp"

#include "pg/boundary/guard.hpp"

namespace tb::pg {

void warn(const std::string &message, const std::string &hint) {
	const char *m = message.c_str(), *h = hint.c_str();
	pg_call([m, h] { ereport(WARNING, (errmsg("%s", m), h[0] ? errhint("%s", h) : 0)); });
}

void notice(const std::string &message, const std::string &hint) {
	const char *m = message.c_str(), *h = hint.c_str();
	pg_call([m, h] { ereport(NOTICE, (errmsg("%s", m), h[0] ? errhint("%s", h) : 0)); });
}

void log_message(int level, const std::string &message) {
	const char *m = message.c_str();
	pg_call([level, m] { ereport(level, (errmsg("%s", m))); });
}

} // namespace tb::pg
