#include "core/storage/s3/s3_xml.hpp"

#include "test_support.hpp"

using namespace tbtest;
using tb::ErrorKind;

namespace {

const char *kTruncatedPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>p/a.tbk</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>p/b&amp;c.tbk</Key><Size>123456789012</Size></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";

TEST(S3Xml, ListPageTruncated) {
	tb::S3ListPage page = tb::parse_list_objects(kTruncatedPage);
	ASSERT_EQ(page.objects.size(), 2u);
	EXPECT_EQ(page.objects[0].key, "p/a.tbk");
	EXPECT_EQ(page.objects[0].size, 1u);
	EXPECT_EQ(page.objects[1].key, "p/b&c.tbk");
	EXPECT_EQ(page.objects[1].size, 123456789012u);
	EXPECT_TRUE(page.truncated);
	EXPECT_EQ(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Xml, ListPageLastAndEmpty) {
	tb::S3ListPage last =
	    tb::parse_list_objects("<ListBucketResult><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>"
	                           "<Contents><Key>x</Key><Size>0</Size></Contents></ListBucketResult>");
	ASSERT_EQ(last.objects.size(), 1u);
	EXPECT_EQ(last.objects[0].key, "x"); // <KeyCount> is not <Key>
	EXPECT_FALSE(last.truncated);
	tb::S3ListPage empty = tb::parse_list_objects(
	    "<ListBucketResult><Name>b</Name><Prefix/><IsTruncated>false</IsTruncated></ListBucketResult>");
	EXPECT_TRUE(empty.objects.empty());
}

TEST(S3Xml, MalformedListingsAreIoErrors) {
	for (const char *xml :
	     {"<Error><Code>x</Code></Error>", "<ListBucketResult><Contents><Key>a</Key><Size>1</Size>",
	      "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
	      "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
	      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
	      "<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>"})
		EXPECT_TRUE(throws_kind(ErrorKind::Io, [&] { tb::parse_list_objects(xml); })) << xml;
}

TEST(S3Xml, UploadId) {
	EXPECT_EQ(tb::parse_upload_id("<?xml version='1.0' encoding='UTF-8'?>\n<InitiateMultipartUploadResult "
	                              "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
	                              "<UploadId>OTg1YzFj-Y2U</UploadId></InitiateMultipartUploadResult>"),
	          "OTg1YzFj-Y2U");
	EXPECT_TRUE(throws_kind(ErrorKind::Io, [] { tb::parse_upload_id("<InitiateMultipartUploadResult/>"); }));
}

TEST(S3Xml, UploadsPage) {
	tb::S3UploadsPage page = tb::parse_list_uploads(
	    "<ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker></KeyMarker><NextKeyMarker>p/b</NextKeyMarker>"
	    "<NextUploadIdMarker>u2</NextUploadIdMarker><IsTruncated>true</IsTruncated>"
	    "<Upload><Key>p/a</Key><UploadId>u1</UploadId></Upload><Upload><Key>p/b</Key><UploadId>u2</UploadId></Upload>"
	    "</ListMultipartUploadsResult>");
	ASSERT_EQ(page.uploads.size(), 2u);
	EXPECT_EQ(page.uploads[1].key, "p/b");
	EXPECT_EQ(page.uploads[1].upload_id, "u2");
	EXPECT_TRUE(page.truncated);
	EXPECT_EQ(page.next_key_marker, "p/b");
	EXPECT_EQ(page.next_upload_id_marker, "u2");
}

TEST(S3Xml, ErrorBody) {
	tb::S3ErrorBody e = tb::parse_error_body(
	    "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
	    "signature we calculated does not match</Message><AWSAccessKeyId>test:tester</AWSAccessKeyId>"
	    "<CanonicalRequest>GET\n/</CanonicalRequest></Error>");
	EXPECT_EQ(e.code, "SignatureDoesNotMatch");
	EXPECT_EQ(e.message, "The request signature we calculated does not match");
	EXPECT_EQ(tb::parse_error_body("").code, "");
	EXPECT_EQ(tb::parse_error_body("<html>Bad Gateway</html>").code, "");
	EXPECT_EQ(tb::parse_error_body("<Error><Code>Truncat").code, ""); // never throws
}

TEST(S3Xml, Escape) {
	EXPECT_EQ(tb::xml_escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&apos;");
	EXPECT_EQ(tb::xml_text("<T>" + tb::xml_escape("a&b<c>") + "</T>", "T"), "a&b<c>");
}

} // namespace
