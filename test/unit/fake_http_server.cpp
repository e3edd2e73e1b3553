#include "fake_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tbtest {

namespace {

// Waits up to ms for fd to be readable; false on timeout.
bool readable(int fd, int ms) {
	pollfd p{fd, POLLIN, 0};
	return ::poll(&p, 1, ms) > 0;
}

void send_all(int fd, const std::string &data) {
	size_t sent = 0;
	while (sent < data.size()) {
		ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		sent += static_cast<size_t>(n);
	}
}

// The value of a request header (case-insensitive name), or "".
std::string header_value(const std::string &head, const std::string &name) {
	size_t pos = 0;
	while ((pos = head.find("\r\n", pos)) != std::string::npos) {
		pos += 2;
		if (strncasecmp(head.c_str() + pos, (name + ":").c_str(), name.size() + 1) == 0) {
			size_t v = head.find_first_not_of(' ', pos + name.size() + 1);
			return head.substr(v, head.find("\r\n", v) - v);
		}
	}
	return "";
}

} // namespace

std::string s3_error_xml(const std::string &code, const std::string &message) {
	return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
	       "</Message></Error>";
}

FakeHttpServer::FakeHttpServer(std::function<FakeAnswer(const FakeRequest &)> handler) : handler_(std::move(handler)) {
	listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof addr;
	if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
	    ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
		throw std::runtime_error("could not start the fake HTTP server");
	port_ = ntohs(addr.sin_port);
	thread_ = std::thread([this] { serve(); });
}

FakeHttpServer::~FakeHttpServer() {
	stop_ = true;
	thread_.join();
	::close(listen_fd_);
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
	std::lock_guard<std::mutex> lock(mutex_);
	return requests_;
}

int FakeHttpServer::count(const std::string &method, const std::string &query_part) const {
	int n = 0;
	for (const auto &r : requests())
		n += r.method == method && r.query.find(query_part) != std::string::npos;
	return n;
}

void FakeHttpServer::serve() {
	while (!stop_) {
		if (!readable(listen_fd_, 50))
			continue;
		int fd = ::accept(listen_fd_, nullptr, nullptr);
		if (fd < 0)
			continue;
		handle(fd);
		::close(fd);
	}
}

void FakeHttpServer::handle(int fd) {
	std::string data;
	char buf[65536];
	size_t head_end;
	while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
		if (stop_ || !readable(fd, 50))
			continue;
		ssize_t n = ::recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			return;
		data.append(buf, static_cast<size_t>(n));
	}
	std::string head = data.substr(0, head_end);
	data.erase(0, head_end + 4);
	if (strcasecmp(header_value(head, "Expect").c_str(), "100-continue") == 0)
		send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
	size_t length = std::stoul("0" + header_value(head, "Content-Length"));
	while (data.size() < length && !stop_) {
		if (!readable(fd, 50))
			continue;
		ssize_t n = ::recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			return;
		data.append(buf, static_cast<size_t>(n));
	}
	FakeRequest req;
	std::string line = head.substr(0, head.find("\r\n"));
	size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
	req.method = line.substr(0, sp1);
	std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
	size_t q = target.find('?');
	req.path = target.substr(0, q);
	req.query = q == std::string::npos ? "" : target.substr(q + 1);
	req.body = data;
	{
		std::lock_guard<std::mutex> lock(mutex_);
		requests_.push_back(req);
	}
	FakeAnswer answer = handler_(req);
	if (answer.kind == FakeAnswer::Drop)
		return;
	if (answer.kind == FakeAnswer::Silence) {
		// Until the client gives up (EOF) or the server stops.
		while (!stop_)
			if (readable(fd, 50) && ::recv(fd, buf, sizeof buf, 0) <= 0)
				return;
		return;
	}
	std::string out = "HTTP/1.1 " + std::to_string(answer.status) + " Fake\r\n";
	bool has_length = false;
	for (const auto &h : answer.headers) {
		out += h + "\r\n";
		has_length = has_length || strncasecmp(h.c_str(), "Content-Length:", 15) == 0;
	}
	if (!has_length)
		out += "Content-Length: " + std::to_string(answer.body.size()) + "\r\n";
	out += "Connection: close\r\n\r\n";
	if (req.method != "HEAD")
		out += answer.body;
	send_all(fd, out);
}

} // namespace tbtest
