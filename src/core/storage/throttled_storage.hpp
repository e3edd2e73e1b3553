// A byte-rate limit on reads (the scheduler's verifications and restore drills,
// tenant_backup.check_max_read_rate): every read through a ThrottledStorage of one ReadRate waits
// as long as keeps the bytes read, all together, at most `bytes_per_second`. Time spent idle earns
// at most one second of credit: after a pause, reads go at the rate again after a burst of at most
// a second's bytes. The clock and the sleep are injected, so that the rule is tested without
// waiting.
#pragma once
#include "core/storage/storage.hpp"

#include <cstdint>
#include <functional>
#include <memory>

namespace tb {

class ReadRate {
public:
	// now_us: a monotonic clock in microseconds; sleep_us: waits, returning false if interrupted.
	ReadRate(std::function<int64_t()> now_us, std::function<bool(int64_t)> sleep_us);
	// The steady clock and sleep_unless_interrupted (core/net/interrupt.hpp).
	ReadRate();
	// 0: no limit.
	void set_limit(uint64_t bytes_per_second) { limit_ = bytes_per_second; }
	uint64_t limit() const { return limit_; }
	// How long to wait, in microseconds, after `bytes` were read at `now_us` (and the wait is then
	// counted as done). Pure bookkeeping: no sleep.
	int64_t delay_after(uint64_t bytes, int64_t now_us);
	// delay_after with the clock, then the wait; throws ErrorKind::Cancelled if interrupted.
	void consumed(uint64_t bytes);

private:
	static constexpr int64_t kCreditUs = 1'000'000;
	std::function<int64_t()> now_us_;
	std::function<bool(int64_t)> sleep_us_;
	uint64_t limit_ = 0;
	bool started_ = false;
	int64_t due_us_ = 0; // when the bytes read so far are paid for
};

// A Source whose reads go through `rate`.
class ThrottledSource : public Source {
public:
	ThrottledSource(std::unique_ptr<Source> inner, std::shared_ptr<ReadRate> rate)
	    : inner_(std::move(inner)), rate_(std::move(rate)) {}
	size_t read(uint8_t *buf, size_t cap) override;

private:
	std::unique_ptr<Source> inner_;
	std::shared_ptr<ReadRate> rate_;
};

// A Storage whose object reads go through `rate`; everything else is the inner storage's.
class ThrottledStorage : public Storage {
public:
	ThrottledStorage(std::shared_ptr<Storage> inner, std::shared_ptr<ReadRate> rate)
	    : inner_(std::move(inner)), rate_(std::move(rate)) {}
	std::unique_ptr<WriteObject> open_write(const std::string &name, const std::string &tag) override {
		return inner_->open_write(name, tag);
	}
	std::unique_ptr<Source> open_read(const std::string &name, uint64_t offset = 0) override {
		return std::make_unique<ThrottledSource>(inner_->open_read(name, offset), rate_);
	}
	uint64_t size(const std::string &name) override { return inner_->size(name); }
	bool remove(const std::string &name) override { return inner_->remove(name); }
	bool exists(const std::string &name) override { return inner_->exists(name); }
	std::vector<ObjectInfo> list(const std::string &prefix) override { return inner_->list(prefix); }
	std::vector<TemporaryObject> list_temporaries() override { return inner_->list_temporaries(); }
	std::string describe(const std::string &name) const override { return inner_->describe(name); }
	bool publish_is_local() const override { return inner_->publish_is_local(); }
	bool node_local() const override { return inner_->node_local(); }
	std::vector<IncompleteUpload> list_incomplete_uploads() override { return inner_->list_incomplete_uploads(); }
	void abort_incomplete_upload(const IncompleteUpload &upload) override { inner_->abort_incomplete_upload(upload); }

private:
	std::shared_ptr<Storage> inner_;
	std::shared_ptr<ReadRate> rate_;
};

} // namespace tb
