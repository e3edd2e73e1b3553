#include "core/stream/tee_sink.hpp"

#include "core/error.hpp"

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb {

size_t TeeSink::add(Sink &sink) {
	branches_.push_back({&sink, nullptr, ""});
	return branches_.size() - 1;
}

template <typename F> void TeeSink::each(F &&fn) {
	std::exception_ptr last;
	bool survivor = false;
	for (auto &b : branches_) {
		if (b.exception)
			continue;
		try {
			fn(*b.sink);
			survivor = true;
		} catch (const Error &e) {
			if (e.kind() == ErrorKind::Cancelled)
				throw; // a cancel stops the whole stream: it is no failure of this branch
			b.exception = last = std::current_exception();
			b.error = *e.what() ? e.what() : "unknown error";
		} catch (const std::exception &e) {
			b.exception = last = std::current_exception();
			b.error = *e.what() ? e.what() : "unknown error";
		} catch (...) {
			b.exception = last = std::current_exception();
			b.error = "unknown error";
		}
	}
	if (survivor)
		return;
	if (!last && !branches_.empty())
		last = branches_.front().exception; // called again after the stream failed
	if (!last)
		throw Error(ErrorKind::Internal, "a stream with nowhere to go");
	std::rethrow_exception(last);
}

void TeeSink::write(const uint8_t *data, size_t len) {
	each([&](Sink &s) { s.write(data, len); });
}

void TeeSink::finish() {
	each([](Sink &s) { s.finish(); });
}

void TeeSink::boundary() {
	each([](Sink &s) { s.boundary(); });
}

} // namespace tb
