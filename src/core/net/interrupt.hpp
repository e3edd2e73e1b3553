// A process-wide "stop what you are doing" check for network operations, which may otherwise
// wait for minutes (timeouts, retries, backoff). The embedding program installs one (the
// PostgreSQL layer: a query cancel or a backend termination is pending); transfers and backoff
// sleeps poll it, from whatever thread runs them, and the S3 driver then throws ErrorKind::
// Cancelled, never retried. Without a check installed nothing is ever interrupted.
//
// The process-wide check alone cannot serve a helper thread: PostgreSQL clears its pending-cancel
// flag when the backend's thread takes the interrupt, and a transfer on the helper thread would
// then never see it. So each pipeline also has a StopToken, which its owner sets when it stops
// the pipeline (ThreadedSink::stop()) and which the helper thread watches (WatchStop).
#pragma once
#include <atomic>

namespace tb {

// Installs the check (nullptr removes it). It is called from any thread, also while a transfer
// runs, often: it must be cheap, must not throw and must only read state.
void set_interrupt_check(bool (*check)());

// Whether to stop: the installed check says so, or the StopToken this thread watches was
// requested. Always false on a thread inside an IgnoreInterrupts scope.
bool interrupt_requested();

// Sleeps ms milliseconds in slices of at most 100 ms; returns false, early, as soon as an
// interrupt is requested.
bool sleep_unless_interrupted(long ms);

// A stop request for the work of one pipeline: set by its owner on any thread, read by the
// threads that watch it. Setting it is final.
class StopToken {
public:
	void request() noexcept { requested_.store(true); }
	bool requested() const noexcept { return requested_.load(); }

private:
	std::atomic<bool> requested_{false};
};

// While one exists, interrupt_requested() on this thread is also true once `token` is requested
// (the token must outlive the scope). Scopes nest; the innermost token is watched.
class WatchStop {
public:
	explicit WatchStop(const StopToken &token);
	~WatchStop();
	WatchStop(const WatchStop &) = delete;
	WatchStop &operator=(const WatchStop &) = delete;

private:
	const StopToken *previous_;
};

// While one exists, interrupt_requested() is false on this thread: for a best-effort cleanup
// request after a cancel (aborting a multipart upload), which would otherwise be cut at once.
class IgnoreInterrupts {
public:
	IgnoreInterrupts();
	~IgnoreInterrupts();
	IgnoreInterrupts(const IgnoreInterrupts &) = delete;
	IgnoreInterrupts &operator=(const IgnoreInterrupts &) = delete;
};

} // namespace tb
