// HelperThread: pure C++ work overlapping the backend's thread (a comparison's archive reading).
#include "core/stream/helper_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using tb::HelperThread;
using tb::StopToken;

TEST(HelperThread, RunsItsWorkAndJoins) {
	int done = 0;
	HelperThread helper([&](const StopToken &) { done = 42; });
	helper.join();
	EXPECT_EQ(done, 42);
	helper.join(); // again: nothing left to wait for
}

TEST(HelperThread, RethrowsWhatItsWorkThrewOnce) {
	HelperThread helper([](const StopToken &) { throw std::runtime_error("archive is damaged"); });
	EXPECT_THROW(helper.join(), std::runtime_error);
	EXPECT_NO_THROW(helper.join());
}

TEST(HelperThread, StopEndsWorkThatPollsItsToken) {
	std::atomic<bool> started{false}, saw_stop{false};
	{
		HelperThread helper([&](const StopToken &stop) {
			started = true;
			while (!stop.requested())
				std::this_thread::sleep_for(std::chrono::milliseconds(1));
			saw_stop = tb::interrupt_requested(); // the token is watched: transfers stop too
		});
		while (!started)
			std::this_thread::yield();
	} // destroyed: stopped and joined
	EXPECT_TRUE(saw_stop);
}

TEST(HelperThread, StopAllStopsAndJoinsEveryLiveOne) {
	std::atomic<int> stopped{0};
	auto work = [&](const StopToken &stop) {
		while (!stop.requested())
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		stopped++;
	};
	HelperThread a(work), b(work);
	HelperThread::stop_all();
	EXPECT_EQ(stopped.load(), 2);
	a.join();
	b.join();
}
