// A loopback HTTP server for tests of the HTTP and S3 clients that need no real server: a
// handler answers each request, leaves it unanswered (a silent server) or drops the connection
// without a word. One request per connection ("Connection: close"), one connection at a time.
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tbtest {

struct FakeRequest {
	std::string method;
	std::string path;  // "/bucket/key", without the query
	std::string query; // after '?', as sent
	std::string body;
};

struct FakeAnswer {
	enum Kind { Reply, Silence, Drop };
	Kind kind = Reply;
	int status = 200;
	std::vector<std::string> headers; // "Name: value"
	std::string body;
};

class FakeHttpServer {
public:
	explicit FakeHttpServer(std::function<FakeAnswer(const FakeRequest &)> handler);
	~FakeHttpServer();
	FakeHttpServer(const FakeHttpServer &) = delete;
	FakeHttpServer &operator=(const FakeHttpServer &) = delete;

	std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
	// Every request received so far, in order.
	std::vector<FakeRequest> requests() const;
	// How many of them had this method and a query containing `query_part`.
	int count(const std::string &method, const std::string &query_part = "") const;

private:
	void serve();
	void handle(int fd);

	std::function<FakeAnswer(const FakeRequest &)> handler_;
	int listen_fd_ = -1;
	int port_ = 0;
	std::atomic<bool> stop_{false};
	mutable std::mutex mutex_;
	std::vector<FakeRequest> requests_;
	std::thread thread_;
};

// An S3 error document.
std::string s3_error_xml(const std::string &code, const std::string &message = "");

} // namespace tbtest
