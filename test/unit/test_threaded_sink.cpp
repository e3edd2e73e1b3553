// ThreadedSink: the helper-thread stage of the backup pipeline, alone and inside ArchiveWriter.
#include "core/stream/threaded_sink.hpp"

#include "core/error.hpp"
#include "core/net/interrupt.hpp"

#include "archive_support.hpp"
#include "test_support.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <gtest/gtest.h>
#include <pthread.h>
#include <thread>

using namespace tbtest;

namespace {

// Records what reaches it and on which thread; can be told to fail or to check the signal mask.
class ProbeSink : public tb::Sink {
public:
	std::string data;
	std::vector<size_t> boundaries; // data size at each boundary
	int finished = 0;
	std::thread::id thread;
	bool sigint_blocked = true;
	size_t fail_after = SIZE_MAX; // throw once this many bytes have arrived
	void write(const uint8_t *p, size_t len) override {
		note();
		data.append(reinterpret_cast<const char *>(p), len);
		if (data.size() >= fail_after)
			throw tb::Error(tb::ErrorKind::Io, "disk full");
	}
	void boundary() override {
		note();
		boundaries.push_back(data.size());
	}
	void finish() override {
		note();
		finished++;
	}

private:
	void note() {
		thread = std::this_thread::get_id();
		sigset_t mask;
		pthread_sigmask(SIG_BLOCK, nullptr, &mask);
		sigint_blocked = sigint_blocked && sigismember(&mask, SIGINT) && sigismember(&mask, SIGALRM);
	}
};

} // namespace

TEST(ThreadedSink, PassesEverythingInOrderOnAnotherThreadWithSignalsBlocked) {
	ProbeSink probe;
	std::string input = random_bytes(5 << 20, 7);
	{
		tb::ThreadedSink sink(probe, 64 << 10, 3);
		size_t pos = 0, step = 1;
		while (pos < input.size()) {
			size_t n = std::min(step, input.size() - pos);
			sink.write(bytes_of(input) + pos, n);
			pos += n;
			step = step * 7 % 100003 + 1;
			if (pos > 2 << 20 && probe.boundaries.empty())
				sink.boundary();
		}
		sink.finish();
	}
	EXPECT_EQ(probe.data, input);
	EXPECT_EQ(probe.finished, 1);
	ASSERT_EQ(probe.boundaries.size(), 1u);
	EXPECT_GT(probe.boundaries[0], size_t(2 << 20)) << "bytes written before the boundary reached it first";
	EXPECT_NE(probe.thread, std::this_thread::get_id()) << "the chain ran on the helper thread";
	EXPECT_TRUE(probe.sigint_blocked) << "PostgreSQL's signals must not be handled on the helper thread";
}

TEST(ThreadedSink, BoundaryWaitsUntilTheHelperHasCaughtUp) {
	ProbeSink probe;
	tb::ThreadedSink sink(probe, 1024, 2);
	std::string input(10000, 'x');
	sink.write(bytes_of(input), input.size());
	sink.boundary();
	// No lock needed: after boundary() the helper thread is idle.
	EXPECT_EQ(probe.data.size(), input.size());
	EXPECT_EQ(probe.boundaries.size(), 1u);
	sink.finish();
}

TEST(ThreadedSink, ADownstreamErrorReachesTheProducer) {
	ProbeSink probe;
	probe.fail_after = 100 << 10;
	tb::ThreadedSink sink(probe, 16 << 10, 2);
	std::string chunk(8 << 10, 'y');
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Io, [&] {
		for (int i = 0; i < 1000; i++)
			sink.write(bytes_of(chunk), chunk.size());
		sink.finish();
	}));
	EXPECT_LT(probe.data.size(), size_t(200 << 10)) << "the helper stopped at the error";
	EXPECT_TRUE(throws_kind(tb::ErrorKind::Io, [&] { sink.finish(); })) << "the error sticks";
}

TEST(ThreadedSink, DestroyingItUnfinishedStopsTheHelper) {
	ProbeSink probe;
	{
		tb::ThreadedSink sink(probe, 4096, 2);
		std::string input(100000, 'z');
		sink.write(bytes_of(input), input.size());
	} // must not hang or crash
	EXPECT_EQ(probe.finished, 0);
}

TEST(ThreadedSink, ArchivesWrittenInTheBackgroundReadBackTheSame) {
	for (bool compress : {false, true})
		for (auto key : {std::optional<tb::crypto::Key>{}, std::optional<tb::crypto::Key>{test_key(3)}}) {
			ArchiveSpec spec = large_spec();
			ar::WriterOptions options = writer_options(compress, key, 64 << 10);
			options.background = true;
			std::string file = write_archive(spec, options);
			expect_same(spec, read_archive(file, reader_options(spec.tenant, key)));
			// The index, whose offsets the writer reads at section starts, is right too.
			MemoryStorage storage;
			storage.objects["a.tbk"] = file;
			auto index = ar::read_archive_index(storage, "a.tbk", reader_options(spec.tenant, key));
			ASSERT_EQ(index.size(), spec.tables.size());
			for (size_t i = 0; i < index.size(); i++) {
				auto reader = ar::open_archive_table(storage, "a.tbk", reader_options(spec.tenant, key), index[i]);
				auto header = reader->next_table();
				ASSERT_TRUE(header.has_value());
				EXPECT_EQ(*header, spec.tables[i].header);
				EXPECT_EQ(read_table(*reader, *header).rows, spec.tables[i].all_rows());
			}
		}
}

TEST(ThreadedSink, StopAllStopsAndJoinsLiveHelpers) {
	// A downstream stage that is slow, as zstd + AES on a big buffer would be.
	class SlowSink : public tb::Sink {
	public:
		std::atomic<int> writes{0};
		void write(const uint8_t *, size_t) override {
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
			writes++;
		}
		void finish() override {}
	} slow;
	tb::ThreadedSink sink(slow, 1024, 4);
	std::string data(4 * 1024, 'q');
	sink.write(bytes_of(data), data.size()); // four buffers queued
	tb::ThreadedSink::stop_all();            // what the exit callback does
	int after_stop = slow.writes.load();
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_EQ(slow.writes.load(), after_stop) << "no downstream work runs once stop_all returned";
	EXPECT_LT(after_stop, 4) << "queued work was dropped, not drained";
}

namespace {

// A downstream stage in a transfer that only an interrupt ends (an S3 part upload to a stalled
// endpoint), polling interrupt_requested() as libcurl's progress callback does. The process-wide
// check never fires: the backend's thread took the cancel first and PostgreSQL cleared its flag.
class StalledTransferSink : public tb::Sink {
public:
	std::atomic<bool> started{false}, interrupted{false};
	void write(const uint8_t *, size_t) override {
		started = true;
		auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60); // the "timeout"
		while (!tb::interrupt_requested() && std::chrono::steady_clock::now() < give_up)
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		interrupted = tb::interrupt_requested();
		throw tb::Error(tb::ErrorKind::Cancelled, "cancelled");
	}
	void finish() override {}
};

bool never() {
	return false;
}

void wait_until_started(const StalledTransferSink &s) {
	for (int i = 0; i < 5000 && !s.started; i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	ASSERT_TRUE(s.started);
}

} // namespace

TEST(ThreadedSink, StoppingItEndsATransferInFlightThroughItsStopToken) {
	tb::set_interrupt_check(never);
	StalledTransferSink stalled;
	auto start = std::chrono::steady_clock::now();
	{
		tb::ThreadedSink sink(stalled, 1024, 2);
		std::string data(1024, 's');
		sink.write(bytes_of(data), data.size()); // one buffer: the helper starts the transfer
		wait_until_started(stalled);
	} // the producer unwinds (the backend's error): stop() sets the token, then joins
	EXPECT_TRUE(stalled.interrupted) << "the helper's interrupt check saw the stop token";
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
	EXPECT_FALSE(tb::interrupt_requested()) << "the token is the helper's only, never this thread's";
	tb::set_interrupt_check(nullptr);
}

TEST(ThreadedSink, StopAllEndsTransfersInFlight) {
	tb::set_interrupt_check(never);
	StalledTransferSink a, b;
	tb::ThreadedSink first(a, 1024, 2), second(b, 1024, 2);
	std::string data(1024, 't');
	first.write(bytes_of(data), data.size());
	second.write(bytes_of(data), data.size());
	wait_until_started(a);
	wait_until_started(b);
	auto start = std::chrono::steady_clock::now();
	tb::ThreadedSink::stop_all(); // a FATAL exit: no unwinding, the exit callback stops the helpers
	EXPECT_TRUE(a.interrupted && b.interrupted);
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
	tb::set_interrupt_check(nullptr);
}
