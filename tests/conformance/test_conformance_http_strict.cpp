// Conformance, http strict: the request shapes a lax parser frames
// differently from a front end, answered the same way by every server; and
// lingering close: a refusal reaches a client that had sent more behind it.
#include <sys/socket.h>

#include <thread>

#include "tests/conformance/http_reader.h"

namespace iomodels::test {
namespace {

using namespace std::literals;

// Sends `request`, expects one reply with `status`, then the connection closed
// by the server with a FIN after it (never a reset).
void expect_refusal_then_close(int fd, const std::string& request, std::string_view status) {
  ASSERT_TRUE(send_all(fd, request));
  HttpReader reader(fd);
  auto r = reader.next();
  ASSERT_TRUE(r.has_value()) << "no reply to " << testing::PrintToString(request);
  EXPECT_EQ(r->status_line.rfind("HTTP/1.1 " + std::string(status), 0), 0u) << r->status_line;
  EXPECT_EQ(r->header("connection"), "close");
  std::string extra;
  EXPECT_EQ(wait_peer_end(fd, milliseconds(3000), &extra), PeerEnd::kClosed);
  EXPECT_TRUE(extra.empty()) << "bytes after the refusal: " << testing::PrintToString(extra);
}

TEST_P(Conformance, HttpStrictControlBytesInFieldsGet400) {
  start("http");
  for (std::string_view field : {"X: a\nContent-Length: 5"sv, "X: a\rb"sv, "X: a\0b"sv, "X\x01: a"sv}) {
    SCOPED_TRACE(testing::PrintToString(std::string(field)));
    Fd c = connect_to(server().port());
    expect_refusal_then_close(c.get(), "GET / HTTP/1.1\r\nHost: x\r\n" + std::string(field) +
                                           "\r\n\r\nhello" + std::string(kGet),
                              "400");
  }
  EXPECT_GE(counter(stop_and_stats(), "protocol_errors"), 4);
}

TEST_P(Conformance, HttpStrictHeadHasNoBody) {
  start("http");
  Fd c = connect_to(server().port());
  ASSERT_TRUE(send_all(c.get(), "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(kGet)));
  HttpReader reader(c.get());
  auto head = reader.next(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(head->header("content-length"), "13");
  // Had the HEAD reply carried a body, the next reply would not start here.
  expect_hello(reader.next());
  EXPECT_FALSE(data_within(c.get(), milliseconds(20)));
}

TEST_P(Conformance, HttpStrict10ClosesWithoutKeepAlive) {
  start("http");
  Fd c = connect_to(server().port());
  ASSERT_TRUE(send_all(c.get(), "GET / HTTP/1.0\r\n\r\n"));
  HttpReader reader(c.get());
  expect_hello(reader.next());
  EXPECT_EQ(wait_peer_end(c.get(), milliseconds(3000)), PeerEnd::kClosed);
  // With keep-alive it stays open and says so.
  Fd k = connect_to(server().port());
  HttpReader keep(k.get());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(send_all(k.get(), "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = keep.next();
    expect_hello(r);
    if (r) {
      EXPECT_EQ(r->header("connection"), "keep-alive");
    }
  }
}

TEST_P(Conformance, HttpStrictOtherVersionGets505) {
  start("http");
  Fd c = connect_to(server().port());
  expect_refusal_then_close(c.get(), "GET / HTTP/1.2\r\nHost: x\r\n\r\n", "505");
}

TEST_P(Conformance, HttpStrictBodyIsConsumed) {
  start("http");
  Fd c = connect_to(server().port());
  std::string body(kGet);  // a request inside the body is not answered
  ASSERT_TRUE(send_all(c.get(), "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                                    "\r\n\r\n" + body + std::string(kGet)));
  HttpReader reader(c.get());
  expect_hello(reader.next());
  expect_hello(reader.next());
  EXPECT_FALSE(data_within(c.get(), milliseconds(50))) << "the body was answered as a request";
}

TEST_P(Conformance, HttpStrictChunkedGets501AndClose) {
  start("http");
  Fd c = connect_to(server().port());
  expect_refusal_then_close(
      c.get(), "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + std::string(kGet),
      "501");
}

TEST_P(Conformance, HttpStrictExpectContinue) {
  start("http");
  Fd c = connect_to(server().port());
  ASSERT_TRUE(send_all(c.get(), "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  // The interim reply comes before the body is sent (curl waits for it).
  std::string interim = recv_until(c.get(), "\r\n\r\n", kIo);
  ASSERT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
  ASSERT_TRUE(send_all(c.get(), "hello" + std::string(kGet)));
  // recv_until may have read past the interim reply: put that back in front.
  HttpReader rest(c.get(), interim.substr(std::string_view("HTTP/1.1 100 Continue\r\n\r\n").size()));
  expect_hello(rest.next());
  expect_hello(rest.next());
  EXPECT_FALSE(data_within(c.get(), milliseconds(50)));
}

// Lingering close: the server refuses while the client's
// extra bytes are still unread. Closing then would send a RST, and the reply
// could be lost; the server shuts down its write side first, so the client
// reads the whole 400 and then an orderly end (FIN), not a reset.
TEST_P(Conformance, LingeringCloseDeliversThe400BeforeAnyReset) {
  start("http");
  Fd c = connect_to(server().port());
  // More than one read's worth (64 KiB) behind the bad request.
  std::string junk = "BROKEN\r\n\r\n" + std::string(150 * 1024, 'x');
  std::thread sender([&] { send_all(c.get(), junk); });
  HttpReader reader(c.get());
  auto r = reader.next();
  ASSERT_TRUE(r.has_value()) << "the 400 was lost";
  EXPECT_EQ(r->status_line.rfind("HTTP/1.1 400", 0), 0u) << r->status_line;
  EXPECT_EQ(r->body, "Bad Request");
  std::string extra;
  EXPECT_EQ(wait_peer_end(c.get(), milliseconds(3000), &extra), PeerEnd::kClosed)
      << "expected a FIN after the reply";
  ::shutdown(c.get(), SHUT_RDWR);  // unblocks the sender if the server stopped reading
  sender.join();
  nlohmann::json stats = stop_and_stats();
  EXPECT_GE(counter(stats, "protocol_errors"), 1);
}

// The linger is bounded: a client that keeps the connection open after the
// refusal is closed on by the server within the 1 s bound (plus slack).
TEST_P(Conformance, LingeringCloseEndsWithinItsBound) {
  start("http");
  Fd c = connect_to(server().port());
  ASSERT_TRUE(send_all(c.get(), "BROKEN\r\n\r\n" + std::string(1000, 'x')));
  ASSERT_EQ(wait_peer_end(c.get(), milliseconds(3000)), PeerEnd::kClosed);
  // Half-closed by the server; once it fully closes, our bytes get a RST and a
  // later send fails. Keep poking (a byte per 50 ms) for up to 5 s.
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = ::send(c.get(), "y", 1, MSG_NOSIGNAL) < 0;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(closed) << "the server still reads 5 s after the refusal";
}

}  // namespace
}  // namespace iomodels::test
