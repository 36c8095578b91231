#include <gtest/gtest.h>

#include "tests/unit/test_protocol_util.h"

namespace iomodels {
namespace {

using test::kAllSplits;
using test::Split;
using After = ServeResult::After;

constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

size_t count_of(const std::string& hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

test::ServeOutcome serve_http(std::string_view in, Split s = Split::kWhole) {
  auto session = make_server_session(Protocol::kHttp, {});
  return test::serve(*session, in, s);
}

TEST(HttpServer, AnswersOneRequestWithTheFixedReply) {
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto o = serve_http(kGet, s);
    EXPECT_EQ(o.messages, 1u);
    EXPECT_EQ(o.after, After::kContinue);
    std::string_view head = "HTTP/1.1 200 OK\r\nServer: iomodels\r\nDate: ";
    std::string_view tail =
        " GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
    ASSERT_TRUE(o.out.starts_with(head)) << o.out;
    ASSERT_TRUE(o.out.ends_with(tail)) << o.out;
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37" before " GMT".
    std::string date = o.out.substr(head.size(), o.out.size() - head.size() - tail.size());
    ASSERT_EQ(date.size(), 25u) << date;
    EXPECT_NE(std::string_view("SunMonTueWedThuFriSat").find(date.substr(0, 3)), std::string::npos);
    EXPECT_EQ(date.substr(3, 2), ", ");
    EXPECT_NE(std::string_view("JanFebMarAprMayJunJulAugSepOctNovDec").find(date.substr(8, 3)),
              std::string::npos);
    EXPECT_EQ(date[16], ' ');
    EXPECT_EQ(date[19], ':');
    EXPECT_EQ(date[22], ':');
  }
}

TEST(HttpServer, SixteenPipelinedRequestsAllAnswered) {
  std::string in;
  for (int i = 0; i < 16; ++i) in += kGet;
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto o = serve_http(in, s);
    EXPECT_EQ(o.messages, 16u);
    EXPECT_EQ(count_of(o.out, "HTTP/1.1 200 OK\r\n"), 16u);
    EXPECT_EQ(o.after, After::kContinue);
  }
}

TEST(HttpServer, ConnectionCloseHonoured) {
  std::string in = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n" + std::string(kGet);
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto o = serve_http(in, s);
    EXPECT_EQ(o.messages, 1u);  // nothing after the close is answered
    EXPECT_EQ(o.after, After::kCloseAfterSend);
    EXPECT_NE(o.out.find("\r\nConnection: close\r\n"), std::string::npos);
  }
}

TEST(HttpServer, Http10ClosesUnlessKeepAlive) {
  auto o = serve_http("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(o.after, After::kCloseAfterSend);
  o = serve_http("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(o.messages, 2u);
  EXPECT_EQ(o.after, After::kCloseAfterSend);
  EXPECT_NE(o.out.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
}

TEST(HttpServer, MalformedRequestLineGets400AndClose) {
  for (std::string_view bad :
       {"GARBAGE\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/1.1x\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n", "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"}) {
    for (Split s : kAllSplits) {
      SCOPED_TRACE(std::string(bad) + test::split_name(s));
      auto o = serve_http(bad, s);
      EXPECT_EQ(o.after, After::kProtocolError);
      EXPECT_EQ(o.messages, 0u);
      EXPECT_TRUE(o.out.starts_with("HTTP/1.1 400 Bad Request\r\n"));
      EXPECT_NE(o.out.find("Connection: close"), std::string::npos);
    }
  }
}

TEST(HttpServer, GoodRequestsBeforeAMalformedOneAreAnswered) {
  auto o = serve_http(std::string(kGet) + "BROKEN\r\n\r\n" + std::string(kGet));
  EXPECT_EQ(o.messages, 1u);
  EXPECT_EQ(o.after, After::kProtocolError);
  EXPECT_EQ(count_of(o.out, "HTTP/1.1 200 OK"), 1u);
  EXPECT_EQ(count_of(o.out, "HTTP/1.1 400"), 1u);
}

TEST(HttpServer, HeaderBlockOver8KiBGets400) {
  std::string unterminated = "GET / HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a');
  std::string terminated = unterminated + "\r\n\r\n";
  for (const std::string& in : {unterminated, terminated}) {
    for (Split s : kAllSplits) {
      SCOPED_TRACE(test::split_name(s));
      auto session = make_server_session(Protocol::kHttp, {});
      auto o = test::serve(*session, in, s);
      EXPECT_EQ(o.after, After::kProtocolError);
      EXPECT_TRUE(o.out.starts_with("HTTP/1.1 400"));
      EXPECT_LE(session->pending_bytes(), 9100u);
    }
  }
  // Just under the limit is fine.
  std::string ok = "GET / HTTP/1.1\r\nX-Filler: " + std::string(8000, 'a') + "\r\n\r\n";
  EXPECT_EQ(serve_http(ok, Split::kRandom).messages, 1u);
}

TEST(HttpServer, BodiesWithContentLengthAreSkipped) {
  std::string in = "POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world" + std::string(kGet);
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto o = serve_http(in, s);
    EXPECT_EQ(o.messages, 2u);
    EXPECT_EQ(o.after, After::kContinue);
  }
}

TEST(HttpServer, ChunkedBodiesAreRefused) {
  auto o = serve_http("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(o.after, After::kProtocolError);
  EXPECT_TRUE(o.out.starts_with("HTTP/1.1 501"));
}

TEST(HttpServer, EmptyLinesBeforeARequestAreIgnored) {
  auto o = serve_http("\r\n\r\n" + std::string(kGet), Split::kBytes);
  EXPECT_EQ(o.messages, 1u);
  EXPECT_EQ(o.after, After::kContinue);
}

TEST(HttpClient, VerifiesServerRepliesInAnySplit) {
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto client = make_client_session(Protocol::kHttp, 1);
    auto server = make_server_session(Protocol::kHttp, {});
    Buffer req;
    for (uint64_t seq = 0; seq < 16; ++seq) client->build_request(seq, 999, req);
    EXPECT_EQ(req.readable_bytes(), 16 * http_request_bytes().size());
    auto o = test::serve(*server, req.view(), s);
    auto r = test::check(*client, o.out, s);
    EXPECT_EQ(r.completed, 16u);
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_EQ(r.http_status, 0u);
    EXPECT_FALSE(r.fatal);
    EXPECT_EQ(client->outstanding(), 0u);
  }
}

TEST(HttpClient, FlippedBodyByteIsAMismatch) {
  auto client = make_client_session(Protocol::kHttp, 1);
  Buffer req;
  client->build_request(0, 0, req);
  client->build_request(1, 0, req);
  std::string reply = serve_http(req.view()).out;
  reply[reply.size() - 2] ^= 0x20;  // in the second body
  auto r = test::check(*client, reply, Split::kBytes);
  EXPECT_EQ(r.completed, 2u);
  EXPECT_EQ(r.mismatches, 1u);
  EXPECT_FALSE(r.fatal);
}

TEST(HttpClient, Non200IsCountedByStatus) {
  auto client = make_client_session(Protocol::kHttp, 1);
  Buffer req;
  client->build_request(0, 0, req);
  auto r = test::check(*client, serve_http("NOPE\r\n\r\n").out, Split::kRandom);
  EXPECT_EQ(r.completed, 1u);
  EXPECT_EQ(r.http_status, 1u);
  EXPECT_EQ(r.mismatches, 0u);
}

TEST(HttpClient, UnparseableReplyIsFatal) {
  for (std::string_view bad : {"SMTP ready\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n",
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    auto client = make_client_session(Protocol::kHttp, 1);
    Buffer req;
    client->build_request(0, 0, req);
    EXPECT_TRUE(test::check(*client, bad, Split::kWhole).fatal) << bad;
  }
}

}  // namespace
}  // namespace iomodels
