// One stream written to several places: a required sink, whose errors propagate, and optional
// ones (off-site copies), each of which is dropped at its first error, keeping the error's text,
// while the others go on. The bytes every surviving branch received are exactly the same. An
// ErrorKind::Cancelled error of any branch propagates: a cancel is no failure of one copy.
#pragma once
#include "core/stream/stream.hpp"

#include <string>
#include <vector>

namespace tb {

class TeeSink : public Sink {
public:
	explicit TeeSink(Sink &required) : required_(required) {}
	// Adds an optional branch (before the first write); returns its index for failed()/error().
	size_t add_optional(Sink &sink);
	void write(const uint8_t *data, size_t len) override;
	void finish() override;
	void boundary() override;
	bool failed(size_t branch) const { return !branches_[branch].error.empty(); }
	const std::string &error(size_t branch) const { return branches_[branch].error; }

private:
	struct Branch {
		Sink *sink;
		std::string error; // set once the branch failed; it gets no further bytes
	};
	template <typename F> void each_optional(F &&fn);
	Sink &required_;
	std::vector<Branch> branches_;
};

} // namespace tb
