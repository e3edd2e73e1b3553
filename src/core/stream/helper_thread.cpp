#include "core/stream/helper_thread.hpp"

#include <algorithm>
#include <csignal>
#include <mutex>
#include <pthread.h>
#include <vector>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {
std::mutex live_mutex;
std::vector<HelperThread *> live; // every HelperThread not joined yet
} // namespace

std::thread start_without_signals(std::function<void()> body) {
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	std::thread thread;
	try {
		thread = std::thread(std::move(body));
	} catch (...) {
		pthread_sigmask(SIG_SETMASK, &old, nullptr);
		throw;
	}
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	return thread;
}

HelperThread::HelperThread(std::function<void(const StopToken &)> work) : work_(std::move(work)) {
	{
		// Registered first: a failure after the thread started would leave it unjoinable.
		std::lock_guard<std::mutex> lock(live_mutex);
		live.push_back(this);
	}
	try {
		start();
	} catch (...) {
		std::lock_guard<std::mutex> lock(live_mutex);
		live.erase(std::remove(live.begin(), live.end(), this), live.end());
		throw;
	}
}

void HelperThread::start() {
	thread_ = start_without_signals([this] {
		WatchStop watch(stop_token_);
		try {
			work_(stop_token_);
		} catch (...) {
			error_ = std::current_exception();
		}
	});
}

HelperThread::~HelperThread() {
	stop();
	try {
		join();
	} catch (...) {
		// stopped: what it threw no longer matters
	}
}

void HelperThread::join() {
	if (!joined_) {
		if (thread_.joinable())
			thread_.join();
		joined_ = true;
		std::lock_guard<std::mutex> lock(live_mutex);
		live.erase(std::remove(live.begin(), live.end(), this), live.end());
	}
	if (error_) {
		std::exception_ptr e = error_;
		error_ = nullptr;
		std::rethrow_exception(e);
	}
}

void HelperThread::stop_all() noexcept {
	std::lock_guard<std::mutex> lock(live_mutex);
	for (HelperThread *h : live)
		h->stop_token_.request();
	for (HelperThread *h : live) {
		if (h->thread_.joinable())
			h->thread_.join();
		h->joined_ = true; // its owner's join() finds it joined (on this same, the backend's, thread)
	}
	live.clear();
}

} // namespace tb
