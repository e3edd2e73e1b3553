// Runs one piece of pure C++ work on a helper thread, as ThreadedSink runs its chain: every signal
// blocked (PostgreSQL's handlers keep running on the backend's thread), a StopToken watched (a
// transfer in flight ends soon after stop()), an exception kept and rethrown by join(). For work
// that overlaps with the PostgreSQL executor on the backend's thread: it must call no PostgreSQL.
#pragma once
#include "core/net/interrupt.hpp"

#include <exception>
#include <functional>
#include <thread>

namespace tb {

// Starts a thread with every signal blocked: the new thread inherits its creator's mask, so it is
// blocked around the creation (PostgreSQL's handlers must keep running on the backend's thread).
std::thread start_without_signals(std::function<void()> body);

class HelperThread {
public:
	// `work` may poll stop_requested() to end early.
	explicit HelperThread(std::function<void(const StopToken &)> work);
	// Stops (stop()) and joins.
	~HelperThread();
	HelperThread(const HelperThread &) = delete;
	HelperThread &operator=(const HelperThread &) = delete;
	// Waits for the work; rethrows what it threw.
	void join();
	// Requests the stop token; join() then waits for the work to notice.
	void stop() noexcept { stop_token_.request(); }
	// Stops and joins every live helper thread, for a process about to exit without unwinding.
	static void stop_all() noexcept;

private:
	void start();
	std::function<void(const StopToken &)> work_;
	StopToken stop_token_;
	std::exception_ptr error_;
	std::thread thread_;
	bool joined_ = false;
};

} // namespace tb
