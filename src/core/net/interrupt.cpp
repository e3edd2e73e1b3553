#include "core/net/interrupt.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {

std::atomic<bool (*)()> installed_check{nullptr};
thread_local int ignore_depth = 0;
thread_local const StopToken *watched = nullptr; // the innermost WatchStop's token

} // namespace

void set_interrupt_check(bool (*check)()) {
	installed_check.store(check);
}

bool interrupt_requested() {
	if (ignore_depth > 0)
		return false;
	if (watched != nullptr && watched->requested())
		return true;
	bool (*check)() = installed_check.load();
	return check != nullptr && check();
}

bool sleep_unless_interrupted(long ms) {
	using Clock = std::chrono::steady_clock;
	const Clock::time_point end = Clock::now() + std::chrono::milliseconds(std::max(0L, ms));
	while (true) {
		if (interrupt_requested())
			return false;
		Clock::time_point now = Clock::now();
		if (now >= end)
			return true;
		std::this_thread::sleep_for(std::min<Clock::duration>(end - now, std::chrono::milliseconds(100)));
	}
}

WatchStop::WatchStop(const StopToken &token) : previous_(watched) {
	watched = &token;
}

WatchStop::~WatchStop() {
	watched = previous_;
}

IgnoreInterrupts::IgnoreInterrupts() {
	ignore_depth++;
}

IgnoreInterrupts::~IgnoreInterrupts() {
	ignore_depth--;
}

} // namespace tb
