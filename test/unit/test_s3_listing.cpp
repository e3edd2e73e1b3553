// Paginated S3 listings: the decision to fetch another page (S3PageCursor) and the listing loops
// against a fake server whose continuation tokens would never let a naive loop end.
#include "core/storage/s3/s3_page_cursor.hpp"
#include "core/storage/s3/s3_storage.hpp"

#include "fake_http_server.hpp"
#include "test_support.hpp"

using namespace tbtest;
using tb::ErrorKind;

namespace {

tb::S3Config fake_config(const FakeHttpServer &server) {
	tb::S3Config c = tb::parse_s3_url("s3://bkt/pre");
	c.endpoint = server.url();
	c.path_style = true;
	c.credentials = {"AKID", "SECRET", ""};
	c.max_retries = 1;
	c.retry_base_delay_ms = 1;
	c.retry_max_delay_ms = 1;
	c.io_timeout_ms = 5000;
	return c;
}

std::string list_page(const std::string &key, bool truncated, const std::string &token) {
	return "<ListBucketResult><Contents><Key>" + key + "</Key><Size>1</Size></Contents><IsTruncated>" +
	       (truncated ? "true" : "false") + "</IsTruncated>" +
	       (token.empty() ? "" : "<NextContinuationToken>" + token + "</NextContinuationToken>") +
	       "</ListBucketResult>";
}

std::string error_of(const std::function<void()> &f) {
	try {
		f();
	} catch (const tb::Error &e) {
		EXPECT_EQ(e.kind(), ErrorKind::Io) << e.what();
		return e.what();
	}
	ADD_FAILURE() << "no error";
	return "";
}

TEST(S3PageCursor, FollowsNewTokensUntilTheLastPage) {
	tb::S3PageCursor cursor("could not list \"s3://b/p\"");
	EXPECT_TRUE(cursor.next_page(true, "a"));
	EXPECT_TRUE(cursor.next_page(true, "b"));
	EXPECT_FALSE(cursor.next_page(false, ""));
	EXPECT_EQ(cursor.pages(), 3);
	tb::S3PageCursor single("x");
	EXPECT_FALSE(single.next_page(false, "ignored when not truncated"));
}

TEST(S3PageCursor, RepeatedTokenOrNoTokenIsAnError) {
	tb::S3PageCursor same("could not list \"s3://b/p\"");
	EXPECT_TRUE(same.next_page(true, "a"));
	std::string msg = error_of([&] { same.next_page(true, "a"); });
	EXPECT_NE(msg.find("could not list \"s3://b/p\""), std::string::npos) << msg;
	EXPECT_NE(msg.find("page 2 repeats an earlier continuation token"), std::string::npos) << msg;

	tb::S3PageCursor cycle("c");
	EXPECT_TRUE(cycle.next_page(true, "a"));
	EXPECT_TRUE(cycle.next_page(true, "b"));
	EXPECT_TRUE(throws_kind(ErrorKind::Io, [&] { cycle.next_page(true, "a"); })); // a cycle of two

	tb::S3PageCursor none("could not list \"s3://b/p\"");
	msg = error_of([&] { none.next_page(true, ""); });
	EXPECT_NE(msg.find("truncated but gives no continuation token"), std::string::npos) << msg;
}

// The server repeats its token five times before it ends the listing: a loop without the cursor
// would list the same key six times; with it, the second page is an error.
TEST(S3Listing, RepeatedContinuationTokenFailsTheListing) {
	FakeHttpServer server([&](const FakeRequest &) {
		FakeAnswer a;
		bool more = server.count("GET") <= 5;
		a.body = list_page("pre/t/a.tbk", more, more ? "same-token" : "");
		return a;
	});
	tb::S3Storage s(fake_config(server));
	std::string msg = error_of([&] { s.list(""); });
	EXPECT_NE(msg.find("could not list \"s3://bkt/pre/\""), std::string::npos) << msg;
	EXPECT_NE(msg.find("repeats an earlier continuation token"), std::string::npos) << msg;
	EXPECT_EQ(server.count("GET"), 2);
	EXPECT_NE(server.requests()[1].query.find("continuation-token=same-token"), std::string::npos);
}

TEST(S3Listing, RepeatedUploadMarkersFailTheListing) {
	FakeHttpServer server([&](const FakeRequest &) {
		FakeAnswer a;
		bool more = server.count("GET") <= 5;
		a.body = std::string("<ListMultipartUploadsResult><Upload><Key>pre/x.tbk</Key><UploadId>u1</UploadId>"
		                     "</Upload><IsTruncated>") +
		         (more ? "true" : "false") +
		         "</IsTruncated><NextKeyMarker>pre/x.tbk</NextKeyMarker><NextUploadIdMarker>u1</NextUploadIdMarker>"
		         "</ListMultipartUploadsResult>";
		return a;
	});
	tb::S3Storage s(fake_config(server));
	std::string msg = error_of([&] { s.list_incomplete_uploads(); });
	EXPECT_NE(msg.find("could not list the uploads of \"s3://bkt/pre/\""), std::string::npos) << msg;
	EXPECT_EQ(server.count("GET"), 2);
}

TEST(S3Listing, PagesWithNewTokensAreAllListed) {
	FakeHttpServer server([&](const FakeRequest &) {
		FakeAnswer a;
		int n = server.count("GET");
		a.body = list_page("pre/t/" + std::to_string(n) + ".tbk", n < 3, n < 3 ? "token" + std::to_string(n) : "");
		return a;
	});
	tb::S3Storage s(fake_config(server));
	auto all = s.list("t/");
	ASSERT_EQ(all.size(), 3u);
	EXPECT_EQ(all[0].name, "t/1.tbk");
	EXPECT_EQ(all[2].name, "t/3.tbk");
	EXPECT_NE(server.requests()[0].query.find("prefix=pre%2Ft%2F"), std::string::npos) << server.requests()[0].query;
}

} // namespace
