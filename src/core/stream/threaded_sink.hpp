// Runs the rest of a Sink chain on a helper thread, so that compression, encryption, hashing and
// writing overlap with the producer (the PostgreSQL executor). Buffers go through a bounded
// queue: at most `depth` buffers of `buffer_size` bytes are in flight, whatever the data's size.
//
// The helper thread runs only the downstream Sinks (pure C++: zstd, OpenSSL, POSIX I/O, and S3
// part uploads over libcurl, which poll the core's interrupt check) and blocks every signal, so
// PostgreSQL's signal handlers keep running on the backend's own thread. It watches the sink's
// StopToken (core/net/interrupt.hpp), which stop() sets before it joins: a transfer in flight
// ends within about a second even when the backend took the cancel or termination first and
// PostgreSQL's flags, which the interrupt check reads, are already cleared.
// An exception on the helper thread is rethrown to the producer at its next call.
#pragma once
#include "core/net/interrupt.hpp"
#include "core/stream/stream.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace tb {

class ThreadedSink : public Sink {
public:
	explicit ThreadedSink(Sink &next, size_t buffer_size = 1u << 20, size_t depth = 4);
	// Stops the helper thread (stop()); work not finished is discarded.
	~ThreadedSink() override;
	ThreadedSink(const ThreadedSink &) = delete;
	ThreadedSink &operator=(const ThreadedSink &) = delete;
	void write(const uint8_t *data, size_t len) override;
	// Passes the boundary on and waits until the helper thread has handled everything before it,
	// so that the producer may then read state of the downstream stages (offsets, indexes).
	void boundary() override;
	// Flushes, finishes the downstream chain on the helper thread and waits for it.
	void finish() override;
	// Stops and joins the helper threads of every live ThreadedSink. For a process that is about
	// to exit without unwinding (PostgreSQL's FATAL, proc_exit): no helper may still be running
	// library code while exit() tears the libraries down.
	static void stop_all() noexcept;

private:
	enum class Kind { Data, Boundary, Finish };
	struct Item {
		Kind kind;
		std::vector<uint8_t> bytes;
	};
	void enqueue(Kind kind);
	void wait_idle();
	void rethrow_if_failed();
	void run();
	// Requests the stop token, discards the queue and joins the helper thread.
	void stop() noexcept;

	Sink &next_;
	size_t buffer_size_, depth_;
	std::vector<uint8_t> current_;
	std::mutex mutex_;
	std::condition_variable changed_;
	std::deque<Item> queue_;
	std::vector<std::vector<uint8_t>> spare_; // buffers handed back for reuse
	bool busy_ = false, stop_ = false;
	std::exception_ptr error_;
	StopToken stop_token_; // watched by the helper thread: its transfers stop once stop() runs
	std::thread worker_;
};

} // namespace tb
