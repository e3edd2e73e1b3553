// ReadRate: the read rate limit of the scheduler's verifications and drills, on an injected clock
// (no real waiting); ThrottledStorage passes reads through it.
#include "core/error.hpp"
#include "core/storage/throttled_storage.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {

struct FakeClock {
	int64_t now = 1'000'000;
	int64_t slept = 0;
	bool interrupted = false;
	std::shared_ptr<tb::ReadRate> rate() {
		return std::make_shared<tb::ReadRate>([this] { return now; },
		                                      [this](int64_t us) {
			                                      if (interrupted)
				                                      return false;
			                                      now += us;
			                                      slept += us;
			                                      return true;
		                                      });
	}
};

class MemoryStorage : public tb::Storage {
public:
	std::map<std::string, std::string> objects;
	std::unique_ptr<tb::WriteObject> open_write(const std::string &, const std::string &) override {
		throw tb::Error(tb::ErrorKind::Internal, "not here");
	}
	std::unique_ptr<tb::Source> open_read(const std::string &name, uint64_t offset) override {
		const std::string &o = objects.at(name);
		return std::make_unique<tb::BytesSource>(reinterpret_cast<const uint8_t *>(o.data()) + offset,
		                                         o.size() - offset);
	}
	uint64_t size(const std::string &name) override { return objects.at(name).size(); }
	bool remove(const std::string &name) override { return objects.erase(name) > 0; }
	bool exists(const std::string &name) override { return objects.count(name) > 0; }
	std::vector<tb::ObjectInfo> list(const std::string &) override { return {}; }
	std::vector<tb::TemporaryObject> list_temporaries() override { return {}; }
	std::string describe(const std::string &name) const override { return "memory:" + name; }
};

} // namespace

TEST(ReadRate, NoLimitNeverWaits) {
	FakeClock clock;
	auto rate = clock.rate();
	EXPECT_EQ(rate->delay_after(1 << 30, clock.now), 0);
	rate->consumed(1 << 30);
	EXPECT_EQ(clock.slept, 0);
}

TEST(ReadRate, KeepsTheBytesReadAtTheLimit) {
	FakeClock clock;
	auto rate = clock.rate();
	rate->set_limit(1'000'000); // 1 MB/s
	for (int i = 0; i < 10; i++)
		rate->consumed(500'000); // instantaneous reads of 0.5 MB
	EXPECT_EQ(clock.slept, 5'000'000) << "5 MB at 1 MB/s take 5 s";
	// Reads that take time themselves wait only for the rest.
	clock.now += 400'000;
	EXPECT_EQ(rate->delay_after(500'000, clock.now), 100'000);
}

TEST(ReadRate, IdleTimeEarnsAtMostASecond) {
	FakeClock clock;
	auto rate = clock.rate();
	rate->set_limit(1'000'000);
	rate->consumed(1'000'000);
	clock.now += 60'000'000; // a minute without reading
	EXPECT_EQ(rate->delay_after(3'000'000, clock.now), 2'000'000)
	    << "3 MB after a pause take 3 s, one of them paid for by the pause";
}

TEST(ReadRate, AnInterruptedWaitIsACancel) {
	FakeClock clock;
	auto rate = clock.rate();
	rate->set_limit(1000);
	clock.interrupted = true;
	try {
		rate->consumed(10'000);
		FAIL() << "no cancel";
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), tb::ErrorKind::Cancelled);
	}
}

TEST(ThrottledStorage, EveryReadOfEveryObjectSharesTheRate) {
	FakeClock clock;
	auto rate = clock.rate();
	rate->set_limit(100'000); // 100 kB/s
	auto memory = std::make_shared<MemoryStorage>();
	memory->objects["a"] = std::string(300'000, 'a');
	memory->objects["b"] = std::string(200'000, 'b');
	tb::ThrottledStorage storage(memory, rate);
	std::string read;
	for (const char *name : {"a", "b"}) {
		auto in = storage.open_read(name);
		uint8_t buf[65536];
		while (size_t n = in->read(buf, sizeof(buf)))
			read.append(reinterpret_cast<char *>(buf), n);
	}
	EXPECT_EQ(read, memory->objects["a"] + memory->objects["b"]) << "the bytes pass unchanged";
	EXPECT_EQ(clock.slept, 5'000'000) << "500 kB at 100 kB/s take 5 s";
	EXPECT_EQ(storage.size("a"), 300'000u);
	EXPECT_EQ(storage.describe("a"), "memory:a");
	EXPECT_TRUE(storage.exists("b"));
}
