#include "pg/scheduler/throttled_warning.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/warnings.hpp"

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
	warn(message, hint);
}

} // namespace tb::pg
