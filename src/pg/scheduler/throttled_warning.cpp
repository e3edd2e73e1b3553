#include "pg/scheduler/throttled_warning.hpp"

#include "pg/boundary/guard.hpp"

#include <ctime>
#include <map>

namespace tb::pg {

namespace {

constexpr time_t kRepeatSeconds = 600;
std::map<std::string, time_t> last_logged; // message -> when; only messages of the last ten minutes

} // namespace

void warn_throttled(const std::string &message, const std::string &hint) {
	time_t now = time(nullptr);
	for (auto it = last_logged.begin(); it != last_logged.end();)
		it = now - it->second >= kRepeatSeconds ? last_logged.erase(it) : std::next(it);
	if (!last_logged.emplace(message, now).second)
		return;
	const char *m = message.c_str(), *h = hint.c_str();
	pg_call([=] { ereport(WARNING, (errmsg("%s", m), h[0] ? errhint("%s", h) : 0)); });
}

} // namespace tb::pg
