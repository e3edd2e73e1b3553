#include "core/cpp_only.hpp"
#include "core/stream/tee_sink.hpp"

#include "core/error.hpp"

#include <exception>

namespace tb {

size_t TeeSink::add_optional(Sink &sink) {
	branches_.push_back({&sink, ""});
	return branches_.size() - 1;
}

template <typename F> void TeeSink::each_optional(F &&fn) {
	for (auto &b : branches_) {
		if (!b.error.empty())
			continue;
		try {
			fn(*b.sink);
		} catch (const Error &e) {
			if (e.kind() == ErrorKind::Cancelled)
				throw; // a cancel stops the whole stream: it is no failure of this branch
			b.error = e.what();
		} catch (const std::exception &e) {
			b.error = e.what();
			if (b.error.empty())
				b.error = "unknown error";
		} catch (...) {
			b.error = "unknown error";
		}
	}
}

void TeeSink::write(const uint8_t *data, size_t len) {
	required_.write(data, len);
	each_optional([&](Sink &s) { s.write(data, len); });
}

void TeeSink::finish() {
	required_.finish();
	each_optional([](Sink &s) { s.finish(); });
}

void TeeSink::boundary() {
	required_.boundary();
	each_optional([](Sink &s) { s.boundary(); });
}

} // namespace tb
