// TenantFieldCheck: a restore's proof, as it loads, that every archived row carries the tenant.
#include "core/archive/tenant_field_check.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

using namespace tbtest;
using tb::ErrorKind;
using tb::archive::TenantFieldCheck;

namespace {

std::string drain(tb::Source &src, size_t chunk) {
	std::string out;
	std::vector<uint8_t> buf(chunk);
	while (size_t n = src.read(buf.data(), buf.size()))
		out.append(reinterpret_cast<const char *>(buf.data()), n);
	return out;
}

const std::string kAcme("\0\0\0\7", 4); // int4 7 as int4send writes it

} // namespace

TEST(TenantFieldCheck, PassesTheTenantsRowsThroughUnchanged) {
	std::string data =
	    tuple({std::string("a"), kAcme, Field{}}) + tuple({std::string(), kAcme, std::string(70000, 'x')});
	for (size_t chunk : {size_t(1), size_t(5), size_t(65536)}) {
		auto src = memory_source(data, 3);
		TenantFieldCheck check(*src, 3, 1, kAcme, "app.t");
		EXPECT_EQ(drain(check, chunk), data);
		EXPECT_EQ(check.rows(), 2u);
	}
}

TEST(TenantFieldCheck, RefusesARowOfAnotherTenantOrNone) {
	std::string good = tuple({std::string("a"), kAcme});
	for (const Field &other : {Field{std::string("\0\0\0\10", 4)}, Field{}, Field{std::string("\0\0\7", 3)},
	                           Field{std::string("\0\0\0\7\0", 5)}}) {
		auto src = memory_source(good + tuple({std::string("b"), other}));
		TenantFieldCheck check(*src, 2, 1, kAcme, "app.t");
		EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { drain(check, 4096); }));
		EXPECT_EQ(check.rows(), 2u);
	}
}

TEST(TenantFieldCheck, StillChecksFieldCounts) {
	auto src = memory_source(tuple({kAcme}));
	TenantFieldCheck check(*src, 2, 1, kAcme, "app.t");
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { drain(check, 4096); }));
}

TEST(TenantFieldCheck, HandsCheckedTuplesOutOneByOne) {
	// next(): a comparison's way, the same check without framing the tuples into a stream again.
	std::string first = tuple({std::string("a"), kAcme}), second = tuple({std::string(), kAcme});
	auto src = memory_source(first + second + tuple({std::string("c"), std::string("\0\0\0\10", 4)}), 3);
	TenantFieldCheck check(*src, 2, 1, kAcme, "app.t");
	std::vector<tb::archive::CopyTupleReader::Field> fields;
	ASSERT_TRUE(check.next(fields));
	EXPECT_EQ(check.raw(), first);
	ASSERT_TRUE(check.next(fields));
	EXPECT_EQ(check.raw(), second);
	EXPECT_EQ(fields[0].length, 0);
	EXPECT_TRUE(throws_kind(ErrorKind::Corrupt, [&] { check.next(fields); }));
	EXPECT_EQ(check.rows(), 3u);
}
