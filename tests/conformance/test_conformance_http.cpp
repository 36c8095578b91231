// Conformance, part 2: the http protocol (docs/design.md, "Protocols") as seen on the wire.
#include "tests/conformance/http_reader.h"

namespace iomodels::test {
namespace {

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
