// Conformance, part 2: the http protocol of DESIGN §2 as seen on the wire.
#include <algorithm>
#include <cctype>
#include <map>

#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

struct HttpResponse {
  std::string status_line;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Reads responses one after another from a stream (pipelined replies may
// arrive in one segment, so what follows one response is kept for the next).
class HttpReader {
 public:
  explicit HttpReader(int fd) : fd_(fd) {}

  std::optional<HttpResponse> next() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      std::string more = recv_until(fd_, "\r\n\r\n", kIo);
      if (more.empty()) return std::nullopt;
      buf_ += more;
    }
    HttpResponse r;
    std::string head = buf_.substr(0, end);
    size_t line_end = head.find("\r\n");
    r.status_line = head.substr(0, line_end);
    for (size_t at = line_end; at != std::string::npos && at < head.size();) {
      size_t from = at + 2, to = head.find("\r\n", from);
      std::string line = head.substr(from, to == std::string::npos ? std::string::npos : to - from);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
        size_t v = line.find_first_not_of(' ', colon + 1);
        r.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      at = to;
    }
    buf_.erase(0, end + 4);
    size_t length = 0;
    try {
      length = std::stoul(r.header("content-length").empty() ? "0" : r.header("content-length"));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (buf_.size() < length) buf_ += recv_exact(fd_, length - buf_.size(), kIo);
    if (buf_.size() < length) return std::nullopt;
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

 private:
  int fd_;
  std::string buf_;
};

void expect_hello(const std::optional<HttpResponse>& r) {
  ASSERT_TRUE(r.has_value()) << "no complete response";
  EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r->header("content-length"), "13");
  EXPECT_EQ(r->header("content-type").rfind("text/plain", 0), 0u) << r->header("content-type");
  EXPECT_FALSE(r->header("server").empty()) << "Server header";
  EXPECT_NE(r->header("date").find("GMT"), std::string::npos) << "Date header: " << r->header("date");
  EXPECT_EQ(r->body, "Hello, World!");
}

TEST_P(Conformance, HttpSingleRequestKeepAlive) {
  start("http");
  Fd c = connect_to(server().port());
  HttpReader reader(c.get());
  ASSERT_TRUE(send_all(c.get(), kGet));
  expect_hello(reader.next());
  // Keep-alive: the same connection answers again.
  ASSERT_TRUE(send_all(c.get(), kGet));
  expect_hello(reader.next());
}

TEST_P(Conformance, HttpSixteenPipelined) {
  start("http");
  Fd c = connect_to(server().port());
  std::string burst;
  for (int i = 0; i < 16; ++i) burst += kGet;
  ASSERT_TRUE(send_all(c.get(), burst));
  HttpReader reader(c.get());
  for (int i = 0; i < 16; ++i) {
    SCOPED_TRACE("response " + std::to_string(i));
    expect_hello(reader.next());
    if (HasFatalFailure()) return;
  }
  EXPECT_FALSE(data_within(c.get(), milliseconds(20))) << "more than 16 responses";
}

TEST_P(Conformance, HttpGarbageGets400AndClose) {
  start("http");
  Fd c = connect_to(server().port());
  ASSERT_TRUE(send_all(c.get(), "this is not http at all\r\n\r\n"));
  HttpReader reader(c.get());
  auto r = reader.next();
  ASSERT_TRUE(r.has_value()) << "no response to garbage";
  EXPECT_EQ(r->status_line.rfind("HTTP/1.1 400", 0), 0u) << r->status_line;
  EXPECT_NE(wait_peer_end(c.get(), milliseconds(3000)), PeerEnd::kOpen) << "a 400 closes the connection";
  nlohmann::json stats = stop_and_stats();
  EXPECT_GE(counter(stats, "protocol_errors"), 1);
}

TEST_P(Conformance, HttpConnectionCloseHonoured) {
  start("http");
  Fd c = connect_to(server().port());
  ASSERT_TRUE(send_all(c.get(), "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  HttpReader reader(c.get());
  expect_hello(reader.next());
  std::string extra;
  EXPECT_EQ(wait_peer_end(c.get(), milliseconds(3000), &extra), PeerEnd::kClosed);
  EXPECT_TRUE(extra.empty()) << "nothing after the last response";
}

TEST_P(Conformance, HttpHalfCloseStillAnswered) {
  start("http");
  Fd c = connect_to(server().port());
  ExchangeResult r = exchange(c.get(), std::string(kGet) + std::string(kGet), 1, kIo, /*shut_wr=*/true);
  ASSERT_FALSE(r.send_failed);
  std::string rest;
  EXPECT_EQ(wait_peer_end(c.get(), milliseconds(3000), &rest), PeerEnd::kClosed);
  std::string all = r.received + rest;
  size_t n = 0;
  for (size_t at = all.find("HTTP/1.1 200 OK"); at != std::string::npos; at = all.find("HTTP/1.1 200 OK", at + 1)) ++n;
  EXPECT_EQ(n, 2u) << "both requests before the FIN are answered:\n" << all;
}

}  // namespace
}  // namespace iomodels::test
