// The pieces of the S3 driver that need no server: canonical URLs, backoff, ETags, header parsing.
#include "core/net/http_client.hpp"
#include "core/net/retry.hpp"
#include "core/net/uri.hpp"
#include "core/storage/s3/s3_client.hpp"
#include "core/storage/s3/s3_etag.hpp"

#include "fake_http_server.hpp"
#include "test_support.hpp"

#include <openssl/evp.h>

using namespace tbtest;

namespace {

// Bucket "bkt" at a fake server's URL, path-style, with throwaway credentials.
std::shared_ptr<tb::S3Config> client_config(const std::string &url) {
	auto config = std::make_shared<tb::S3Config>();
	config->bucket = "bkt";
	config->endpoint = url;
	config->path_style = true;
	config->credentials = {"AKID", "SECRET", ""};
	return config;
}

TEST(S3Uri, EncodesAsSigV4Wants) {
	EXPECT_EQ(tb::uri_encode("AZaz09-._~", false), "AZaz09-._~");
	EXPECT_EQ(tb::uri_encode("a b+c/d=e&f:g", false), "a%20b%2Bc%2Fd%3De%26f%3Ag");
	EXPECT_EQ(tb::uri_encode("a/b c", true), "a/b%20c");
	EXPECT_EQ(tb::uri_encode("\xc3\xa9*", false), "%C3%A9%2A");
}

TEST(S3Uri, CanonicalQueryIsSortedWithEquals) {
	EXPECT_EQ(tb::canonical_query({{"uploads", ""}}), "uploads=");
	EXPECT_EQ(tb::canonical_query(
	              {{"prefix", "t/1 2"}, {"list-type", "2"}, {"max-keys", "2"}, {"continuation-token", "ab/c+d="}}),
	          "continuation-token=ab%2Fc%2Bd%3D&list-type=2&max-keys=2&prefix=t%2F1%202");
	EXPECT_EQ(tb::canonical_query({{"uploadId", "x"}, {"partNumber", "10"}}), "partNumber=10&uploadId=x");
	EXPECT_EQ(tb::canonical_query({}), "");
}

TEST(S3Uri, PathStyleAndVirtualHostedUrls) {
	auto config = std::make_shared<tb::S3Config>();
	config->bucket = "bkt";
	config->endpoint = "http://127.0.0.1:9000";
	config->credentials = {"test:tester", "SECRET", "TOKEN"};
	config->path_style = true;
	tb::S3Request r;
	r.key = "pre/t/1.tbk";
	r.query = tb::canonical_query({{"uploads", ""}});
	{
		tb::S3Client client(config);
		tb::HttpRequest req = client.http_request(r);
		EXPECT_EQ(req.url, "http://127.0.0.1:9000/bkt/pre/t/1.tbk?uploads=");
		// The empty body's SHA-256, and the session token as a header; never the secret.
		EXPECT_NE(std::find(req.headers.begin(), req.headers.end(),
		                    "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
		          req.headers.end());
		EXPECT_NE(std::find(req.headers.begin(), req.headers.end(), "x-amz-security-token: TOKEN"), req.headers.end());
		for (const auto &h : req.headers)
			EXPECT_EQ(h.find("SECRET"), std::string::npos) << h;
		tb::HttpSettings s = client.http_settings();
		EXPECT_EQ(s.aws_sigv4, "aws:amz:us-east-1:s3");
		EXPECT_EQ(s.username, "test:tester"); // the colon stays in the user name
		EXPECT_EQ(s.password, "SECRET");
		EXPECT_EQ(client.http_request(tb::S3Request{}).url, "http://127.0.0.1:9000/bkt");
	}
	config->path_style = false;
	config->endpoint = "";
	tb::S3Client client(config);
	EXPECT_EQ(client.http_request(r).url, "https://bkt.s3.us-east-1.amazonaws.com/pre/t/1.tbk?uploads=");
}

TEST(S3Retry, BackoffGrowsWithJitterAndACap) {
	tb::RetryPolicy p{4, 200, 1000};
	for (uint64_t random : {0ull, 1ull, 12345ull, ~0ull}) {
		long d0 = tb::retry_delay_ms(p, 0, random), d1 = tb::retry_delay_ms(p, 1, random),
		     d5 = tb::retry_delay_ms(p, 5, random);
		EXPECT_GE(d0, 100);
		EXPECT_LE(d0, 200);
		EXPECT_GE(d1, 200);
		EXPECT_LE(d1, 400);
		EXPECT_GE(d5, 500);
		EXPECT_LE(d5, 1000);
	}
	EXPECT_NE(tb::retry_delay_ms(p, 3, 1), tb::retry_delay_ms(p, 3, 2)); // jitter
	EXPECT_EQ(tb::retry_delay_ms(tb::RetryPolicy{3, 0, 0}, 2, 99), 0);
	EXPECT_LE(tb::retry_delay_ms(p, 1000, 7), 1000); // no overflow for large retry numbers
}

TEST(S3Retry, WhichStatusesAreRetried) {
	for (long s : {429, 500, 502, 503, 504})
		EXPECT_TRUE(tb::retryable_http_status(s)) << s;
	for (long s : {200, 204, 301, 400, 403, 404, 409, 412, 416, 501})
		EXPECT_FALSE(tb::retryable_http_status(s)) << s;
}

TEST(S3Etag, SinglePutIsTheBodyMd5) {
	const std::string body = "hello\n";
	EXPECT_EQ(tb::single_put_etag(tb::md5_of(bytes_of(body), body.size())), "b1946ac92492d2347c6235b4d2611184");
	EXPECT_EQ(tb::single_put_etag(tb::md5_of(nullptr, 0)), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(S3Etag, MultipartIsTheMd5OfPartMd5s) {
	// Computed independently: md5(md5("a") || md5("b")) with the part count.
	std::vector<tb::Md5Digest> parts = {tb::md5_of(bytes_of("a"), 1), tb::md5_of(bytes_of("b"), 1)};
	std::string concatenated;
	for (const auto &d : parts)
		concatenated.append(reinterpret_cast<const char *>(d.data()), d.size());
	unsigned char md[16];
	unsigned int len = 0;
	ASSERT_EQ(EVP_Digest(concatenated.data(), concatenated.size(), md, &len, EVP_md5(), nullptr), 1);
	EXPECT_EQ(tb::multipart_etag(parts), tb::hex_of(md, 16) + "-2");
	EXPECT_EQ(tb::multipart_etag(parts).size(), 34u);
}

TEST(S3Etag, HelpersForHeaders) {
	EXPECT_EQ(tb::unquote_etag("\"abc\""), "abc");
	EXPECT_EQ(tb::unquote_etag("abc"), "abc");
	EXPECT_EQ(tb::base64_of(bytes_of("hello\n"), 6), "aGVsbG8K");
	tb::Md5Digest d = tb::md5_of(bytes_of("hello\n"), 6);
	EXPECT_EQ(tb::base64_of(d.data(), d.size()), "sZRqySSS0jR8YjW00mERhA==");
}

TEST(S3Http, HeaderLinesAndStatus) {
	tb::HttpResponse r;
	auto line = [&](const std::string &s) { tb::take_header_line(r, s.data(), s.size()); };
	line("HTTP/1.1 100 Continue\r\n");
	line("\r\n");
	line("HTTP/1.1 206 Partial Content\r\n");
	line("ETag: \"abc\"\r\n");
	line("Content-Length:  12\r\n");
	EXPECT_EQ(r.status, 206);
	EXPECT_EQ(r.header("etag"), "\"abc\"");
	EXPECT_EQ(r.header("content-length"), "12");
	EXPECT_EQ(r.header("missing"), "");
}

TEST(S3Http, ErrorsNameTheObjectAndCodeButNotTheSecret) {
	auto config = std::make_shared<tb::S3Config>();
	config->bucket = "bkt";
	config->credentials = {"AKID", "TOPSECRET", ""};
	tb::S3Client client(config);
	tb::HttpResponse r;
	r.status = 403;
	r.body = "<Error><Code>SignatureDoesNotMatch</Code><Message>no match</Message></Error>";
	tb::Error e = client.error_for("read", "p/x", r);
	EXPECT_EQ(e.kind(), tb::ErrorKind::PermissionDenied);
	EXPECT_STREQ(e.what(), "could not read \"s3://bkt/p/x\": S3 refused the credentials (HTTP 403 "
	                       "SignatureDoesNotMatch: no match)");
	r.status = 404;
	r.body = "<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>";
	e = client.error_for("list", "p/", r);
	EXPECT_EQ(e.kind(), tb::ErrorKind::NotFound);
	EXPECT_NE(std::string(e.what()).find("bucket \"bkt\" does not exist"), std::string::npos) << e.what();
	r.status = 403; // as every answer to HEAD: no body, so no code to tell why
	r.body = "";
	e = client.error_for("check for", "k", r);
	EXPECT_EQ(e.kind(), tb::ErrorKind::PermissionDenied);
	EXPECT_STREQ(e.what(), "could not check for \"s3://bkt/k\": access denied (HTTP 403; a HEAD response carries no "
	                       "error code: wrong credentials or missing permission)");
	r.body = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
	e = client.error_for("read", "k", r);
	EXPECT_STREQ(e.what(), "could not read \"s3://bkt/k\": S3 denied access (HTTP 403 AccessDenied: Access Denied)");
	r.body = "<Error><Code>RequestTimeTooSkewed</Code><Message>too far</Message></Error>";
	e = client.error_for("read", "k", r);
	EXPECT_NE(std::string(e.what()).find("clock is off"), std::string::npos) << e.what();
	r.status = 500;
	r.body = "";
	e = client.error_for("write", "k", r);
	EXPECT_EQ(e.kind(), tb::ErrorKind::Io);
	EXPECT_STREQ(e.what(), "could not write \"s3://bkt/k\": HTTP 500");
}

// A HEAD of an object answers 404 without a body whether the key or the bucket is missing; only
// then a HEAD of the bucket tells which.
TEST(S3Http, HeadTellsAMissingBucketFromAMissingObject) {
	for (int bucket_status : {404, 200, 403}) {
		tbtest::FakeHttpServer server([&](const tbtest::FakeRequest &r) {
			tbtest::FakeAnswer a;
			a.status = r.path == "/bkt" ? bucket_status : 404;
			return a;
		});
		tb::S3Client client(client_config(server.url()));
		if (bucket_status == 404) {
			try {
				tb::s3_head(client, "check for", "p/x.tbk");
				ADD_FAILURE() << "no error";
			} catch (const tb::Error &e) {
				EXPECT_EQ(e.kind(), tb::ErrorKind::NotFound);
				EXPECT_STREQ(e.what(), "could not check for \"s3://bkt/p/x.tbk\": bucket \"bkt\" does not exist");
			}
		} else {
			EXPECT_FALSE(tb::s3_head(client, "check for", "p/x.tbk").exists) << bucket_status;
		}
		ASSERT_EQ(server.requests().size(), 2u);
		EXPECT_EQ(server.requests()[1].method, "HEAD");
		EXPECT_EQ(server.requests()[1].path, "/bkt");
	}
}

// An object that exists costs one request, as before.
TEST(S3Http, HeadOfAnExistingObjectIsOneRequest) {
	tbtest::FakeHttpServer server([](const tbtest::FakeRequest &) {
		tbtest::FakeAnswer a;
		a.headers = {"Content-Length: 12", "ETag: \"abc\""};
		return a;
	});
	tb::S3Client client(client_config(server.url()));
	tb::S3Head head = tb::s3_head(client, "check for", "x");
	EXPECT_TRUE(head.exists);
	EXPECT_EQ(head.size, 12u);
	EXPECT_EQ(head.etag, "abc");
	EXPECT_EQ(server.requests().size(), 1u);
}

} // namespace
