// One stream written to several places (the copies of a backup in several repositories). Each
// branch is dropped at its first error, keeping the error, while the others go on; the stream
// itself fails only when its last surviving branch fails, with that branch's own exception. The
// bytes every surviving branch received are exactly the same. An ErrorKind::Cancelled error of
// any branch propagates at once: a cancel is no failure of one copy.
#pragma once
#include "core/stream/stream.hpp"

#include <exception>
#include <string>
#include <vector>

namespace tb {

class TeeSink : public Sink {
public:
	// Adds a branch (before the first write); returns its index for failed()/error().
	size_t add(Sink &sink);
	void write(const uint8_t *data, size_t len) override;
	void finish() override;
	void boundary() override;
	bool failed(size_t branch) const { return static_cast<bool>(branches_[branch].exception); }
	const std::string &error(size_t branch) const { return branches_[branch].error; }

private:
	struct Branch {
		Sink *sink;
		std::exception_ptr exception; // set once the branch failed; it gets no further bytes
		std::string error;
	};
	// Runs fn on every surviving branch; rethrows the last failure once no branch survives.
	template <typename F> void each(F &&fn);
	std::vector<Branch> branches_;
};

} // namespace tb
