// Reading HTTP responses off a conformance-test socket, shared by the http
// conformance files.
#pragma once
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>

#include "tests/conformance/test_conformance.h"

namespace iomodels::test {

inline constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

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
  explicit HttpReader(int fd, std::string already_read = {}) : fd_(fd), buf_(std::move(already_read)) {}

  // head: the reply to a HEAD, which has Content-Length but no body.
  std::optional<HttpResponse> next(bool head_only = false) {
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
    if (head_only) return r;
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

inline void expect_hello(const std::optional<HttpResponse>& r) {
  ASSERT_TRUE(r.has_value()) << "no complete response";
  EXPECT_EQ(r->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r->header("content-length"), "13");
  EXPECT_EQ(r->header("content-type").rfind("text/plain", 0), 0u) << r->header("content-type");
  EXPECT_FALSE(r->header("server").empty()) << "Server header";
  EXPECT_NE(r->header("date").find("GMT"), std::string::npos) << "Date header: " << r->header("date");
  EXPECT_EQ(r->body, "Hello, World!");
}

}  // namespace iomodels::test
