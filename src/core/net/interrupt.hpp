// A process-wide "stop what you are doing" check for network operations, which may otherwise
// wait for minutes (timeouts, retries, backoff). The embedding program installs one (the
// PostgreSQL layer: a query cancel or a backend termination is pending); transfers and backoff
// sleeps poll it, from whatever thread runs them, and the S3 driver then throws ErrorKind::
// Cancelled, never retried. Without a check installed nothing is ever interrupted.
#pragma once

namespace tb {

// Installs the check (nullptr removes it). It is called from any thread, also while a transfer
// runs, often: it must be cheap, must not throw and must only read state.
void set_interrupt_check(bool (*check)());

// Whether the installed check says to stop (false on a thread inside an IgnoreInterrupts scope).
bool interrupt_requested();

// Sleeps ms milliseconds in slices of at most 100 ms; returns false, early, as soon as an
// interrupt is requested.
bool sleep_unless_interrupted(long ms);

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
