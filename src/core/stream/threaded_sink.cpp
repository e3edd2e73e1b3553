#include "core/stream/threaded_sink.hpp"

#include "core/error.hpp"
#include "core/stream/helper_thread.hpp"

#include <algorithm>
#include <cstring>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

namespace {
std::mutex live_mutex;
std::vector<ThreadedSink *> live; // every ThreadedSink whose helper thread may be running
} // namespace

ThreadedSink::ThreadedSink(Sink &next, size_t buffer_size, size_t depth)
    : next_(next), buffer_size_(buffer_size), depth_(depth) {
	current_.reserve(buffer_size_);
	worker_ = start_without_signals([this] { run(); });
	std::lock_guard<std::mutex> lock(live_mutex);
	live.push_back(this);
}

ThreadedSink::~ThreadedSink() {
	stop();
	std::lock_guard<std::mutex> lock(live_mutex);
	live.erase(std::remove(live.begin(), live.end(), this), live.end());
}

void ThreadedSink::stop() noexcept {
	stop_token_.request(); // a transfer in flight on the helper thread ends now, not at its timeout
	{
		std::lock_guard<std::mutex> lock(mutex_);
		stop_ = true;
		queue_.clear();
	}
	changed_.notify_all();
	if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id())
		worker_.join();
}

void ThreadedSink::stop_all() noexcept {
	std::lock_guard<std::mutex> lock(live_mutex);
	for (ThreadedSink *sink : live) // every helper told first, so that they stop side by side
		sink->stop_token_.request();
	for (ThreadedSink *sink : live)
		sink->stop();
}

void ThreadedSink::rethrow_if_failed() {
	if (error_)
		std::rethrow_exception(error_);
}

void ThreadedSink::enqueue(Kind kind) {
	std::unique_lock<std::mutex> lock(mutex_);
	changed_.wait(lock, [this] { return queue_.size() < depth_ || error_; });
	rethrow_if_failed();
	Item item{kind, {}};
	if (kind == Kind::Data) {
		item.bytes.swap(current_);
		if (!spare_.empty()) {
			current_.swap(spare_.back());
			spare_.pop_back();
		}
		current_.clear();
		current_.reserve(buffer_size_);
	}
	queue_.push_back(std::move(item));
	lock.unlock();
	changed_.notify_all();
}

void ThreadedSink::wait_idle() {
	std::unique_lock<std::mutex> lock(mutex_);
	changed_.wait(lock, [this] { return (queue_.empty() && !busy_) || error_; });
	rethrow_if_failed();
}

void ThreadedSink::write(const uint8_t *data, size_t len) {
	while (len > 0) {
		size_t take = std::min(len, buffer_size_ - current_.size());
		current_.insert(current_.end(), data, data + take);
		data += take;
		len -= take;
		if (current_.size() == buffer_size_)
			enqueue(Kind::Data);
	}
}

void ThreadedSink::boundary() {
	if (!current_.empty())
		enqueue(Kind::Data);
	enqueue(Kind::Boundary);
	wait_idle();
}

void ThreadedSink::finish() {
	if (!current_.empty())
		enqueue(Kind::Data);
	enqueue(Kind::Finish);
	wait_idle();
}

void ThreadedSink::run() {
	WatchStop watch(stop_token_);
	std::unique_lock<std::mutex> lock(mutex_);
	while (true) {
		changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
		if (stop_)
			return;
		Item item = std::move(queue_.front());
		queue_.pop_front();
		busy_ = true;
		lock.unlock();
		changed_.notify_all(); // room in the queue
		std::exception_ptr failure;
		try {
			switch (item.kind) {
			case Kind::Data:
				next_.write(item.bytes.data(), item.bytes.size());
				break;
			case Kind::Boundary:
				next_.boundary();
				break;
			case Kind::Finish:
				next_.finish();
				break;
			}
		} catch (...) {
			failure = std::current_exception();
		}
		lock.lock();
		busy_ = false;
		if (failure) {
			error_ = failure;
			queue_.clear();
		} else if (item.kind == Kind::Data && spare_.size() < depth_) {
			spare_.push_back(std::move(item.bytes));
		}
		changed_.notify_all();
		if (failure)
			return;
	}
}

} // namespace tb
