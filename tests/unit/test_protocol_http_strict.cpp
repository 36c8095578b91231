// The strict parts of the http protocol (no request a front end frames differently): control bytes in fields,
// HEAD, versions, bodies, Transfer-Encoding, Expect; and the loadgen's reply
// parser held to the same rules. Every case runs whole, byte by byte and in
// random splits, because the parsers keep state across calls.
#include <gtest/gtest.h>

#include "tests/unit/test_protocol_util.h"

namespace iomodels {
namespace {

using test::kAllSplits;
using test::Split;
using After = ServeResult::After;
using namespace std::literals;

constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

size_t count_of(const std::string& hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// Expects `in` to be refused with `status` and a close, in every split, with
// `answered` good replies before the refusal.
void expect_refused(const std::string& in, std::string_view status, uint64_t answered = 0) {
  for (Split s : kAllSplits) {
    SCOPED_TRACE(testing::PrintToString(in) + " " + test::split_name(s));
    auto session = make_server_session(Protocol::kHttp, {});
    auto o = test::serve(*session, in, s);
    EXPECT_EQ(o.after, After::kProtocolError);
    EXPECT_EQ(o.messages, answered);
    EXPECT_EQ(count_of(o.out, "HTTP/1.1 200 OK\r\n"), answered);
    size_t at = o.out.find("HTTP/1.1 " + std::string(status) + "\r\n");
    ASSERT_NE(at, std::string::npos) << o.out;
    EXPECT_NE(o.out.find("\r\nConnection: close\r\n", at), std::string::npos) << o.out;
    // The refusal is the last thing written: one complete reply, nothing after its body.
    std::string_view reason = status.substr(4);
    EXPECT_TRUE(o.out.ends_with("\r\n\r\n" + std::string(reason))) << o.out;
  }
}

test::ServeOutcome serve_all(const std::string& in, Split s) {
  auto session = make_server_session(Protocol::kHttp, {});
  return test::serve(*session, in, s);
}

TEST(HttpStrict, ControlBytesInAFieldValueGet400) {
  for (char c : {'\r', '\n', '\0', '\x01', '\x0b', '\x1f', '\x7f'}) {
    std::string in = "GET / HTTP/1.1\r\nHost: x\r\nX-Test: a" + std::string(1, c) + "b\r\n\r\n";
    expect_refused(in, "400 Bad Request");
  }
}

TEST(HttpStrict, ControlBytesInAFieldNameGet400) {
  for (char c : {'\r', '\n', '\0', '\t', '\x7f'}) {
    std::string in = "GET / HTTP/1.1\r\nX-T" + std::string(1, c) + "est: a\r\n\r\n";
    expect_refused(in, "400 Bad Request");
  }
}

TEST(HttpStrict, BareLfBeforeContentLengthIsNotASecondLine) {
  // A front end that ends lines at LF sees one request with a 5-byte body; a
  // lax parser sees a request and then "hello" + the next: either way, refuse.
  std::string in = "GET / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\nhello" + std::string(kGet);
  expect_refused(in, "400 Bad Request");
  // The same after a good request: that one is answered, then the refusal.
  expect_refused(std::string(kGet) + in, "400 Bad Request", 1);
}

TEST(HttpStrict, TabsAndObsTextInValuesAreAccepted) {
  std::string in = "GET / HTTP/1.1\r\nX-Tab:\ta\tb\t\r\nX-Latin: caf\xe9\r\n\r\n" + std::string(kGet);
  for (Split s : kAllSplits) {
    auto o = serve_all(in, s);
    EXPECT_EQ(o.messages, 2u) << test::split_name(s);
    EXPECT_EQ(o.after, After::kContinue);
  }
}

TEST(HttpStrict, HeadGetsTheSameHeadersWithoutABody) {
  std::string in = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(kGet);
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto o = serve_all(in, s);
    EXPECT_EQ(o.messages, 2u);
    EXPECT_EQ(o.after, After::kContinue);
    // Two replies with identical heads; only the second has a body.
    size_t second = o.out.find("HTTP/1.1 200 OK", 1);
    ASSERT_NE(second, std::string::npos) << o.out;
    std::string head_reply = o.out.substr(0, second);
    std::string get_reply = o.out.substr(second);
    EXPECT_NE(head_reply.find("\r\nContent-Length: 13\r\n"), std::string::npos) << head_reply;
    EXPECT_TRUE(head_reply.ends_with("\r\n\r\n")) << head_reply;
    // Identical but for the Date (the calls may straddle a second).
    size_t date = head_reply.find("\r\nDate: ");
    ASSERT_NE(date, std::string::npos);
    get_reply.replace(date + 8, 29, head_reply, date + 8, 29);
    EXPECT_EQ(head_reply + "Hello, World!", get_reply);
  }
}

TEST(HttpStrict, HeadWithConnectionCloseClosesWithoutABody) {
  auto o = serve_all("HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n", Split::kBytes);
  EXPECT_EQ(o.after, After::kCloseAfterSend);
  EXPECT_TRUE(o.out.ends_with("\r\nConnection: close\r\n\r\n")) << o.out;
}

TEST(HttpStrict, Http10ClosesAfterTheReplyUnlessKeepAlive) {
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto o = serve_all("GET / HTTP/1.0\r\nHost: x\r\n\r\n" + std::string(kGet), s);
    EXPECT_EQ(o.messages, 1u);  // the request behind it is never answered
    EXPECT_EQ(o.after, After::kCloseAfterSend);
    EXPECT_NE(o.out.find("\r\nConnection: close\r\n"), std::string::npos);
    o = serve_all("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n" + std::string(kGet), s);
    EXPECT_EQ(o.messages, 2u);
    EXPECT_EQ(o.after, After::kContinue);
  }
}

TEST(HttpStrict, OtherVersionsGet505) {
  for (std::string_view v : {"HTTP/1.2", "HTTP/1.9", "HTTP/2.0", "HTTP/0.9", "HTTP/3.1"})
    expect_refused("GET / " + std::string(v) + "\r\nHost: x\r\n\r\n", "505 HTTP Version Not Supported");
}

TEST(HttpStrict, MalformedVersionsGet400) {
  for (std::string_view v : {"HTTP/1.10", "HTTP/1", "http/1.1", "HTTP/1.x", "HTTP/11", "HTTP-1.1"})
    expect_refused("GET / " + std::string(v) + "\r\nHost: x\r\n\r\n", "400 Bad Request");
}

TEST(HttpStrict, ABodyThatLooksLikeARequestIsConsumed) {
  std::string body(kGet);  // a request inside the body must not be answered
  std::string in = "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body + std::string(kGet);
  for (Split s : kAllSplits) {
    auto o = serve_all(in, s);
    EXPECT_EQ(o.messages, 2u) << test::split_name(s);
    EXPECT_EQ(o.after, After::kContinue);
  }
}

TEST(HttpStrict, ContentLengthRules) {
  std::string same = "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
  EXPECT_EQ(serve_all(same + std::string(kGet), Split::kBytes).messages, 2u);
  for (std::string_view bad : {"Content-Length: 3\r\nContent-Length: 4", "Content-Length: 3, 3",
                               "Content-Length: -1", "Content-Length: +3", "Content-Length:",
                               "Content-Length: 1234567890123456789"})
    expect_refused("POST / HTTP/1.1\r\n" + std::string(bad) + "\r\n\r\nabcd", "400 Bad Request");
}

TEST(HttpStrict, TransferEncodingIsRefusedWith501NeverDecoded) {
  // The chunked body holds a whole request: it must not be answered either.
  std::string chunk(kGet);
  char size_hex[16];
  std::snprintf(size_hex, sizeof size_hex, "%zx", chunk.size());
  std::string body = std::string(size_hex) + "\r\n" + chunk + "\r\n0\r\n\r\n";
  for (std::string_view te : {"chunked", "Chunked", "gzip, chunked", "identity"})
    expect_refused("POST / HTTP/1.1\r\nTransfer-Encoding: " + std::string(te) + "\r\n\r\n" + body,
                   "501 Not Implemented");
  // With a Content-Length too: still refused, the stream is ambiguous.
  expect_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
                 "501 Not Implemented");
  // A malformed field after it wins: the block itself is bad.
  expect_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nBad Name: x\r\n\r\n",
                 "400 Bad Request");
}

TEST(HttpStrict, Expect100ContinueIsAnsweredThenTheBodyIsRead) {
  std::string in = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\nhello" +
                   std::string(kGet);
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto o = serve_all(in, s);
    EXPECT_EQ(o.messages, 2u);
    EXPECT_EQ(o.after, After::kContinue);
    EXPECT_TRUE(o.out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")) << o.out;
    EXPECT_EQ(count_of(o.out, "100 Continue"), 1u);
    EXPECT_EQ(count_of(o.out, "HTTP/1.1 200 OK\r\n"), 2u);
  }
}

TEST(HttpStrict, Expect100ContinueWithoutABodyOrOn10GetsNoInterimReply) {
  for (std::string_view in : {"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
                              "POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
                              "POST / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n"
                              "Content-Length: 2\r\n\r\nhi"}) {
    auto o = serve_all(std::string(in) + std::string(kGet), Split::kRandom);
    EXPECT_EQ(o.messages, 2u) << in;
    EXPECT_EQ(count_of(o.out, "100 Continue"), 0u) << in;
  }
  // HTTP/1.0 ignores any expectation (RFC 9110 §10.1.1).
  auto o = serve_all("GET / HTTP/1.0\r\nExpect: something\r\n\r\n", Split::kBytes);
  EXPECT_EQ(o.messages, 1u);
}

TEST(HttpStrict, OtherExpectationsGet417) {
  expect_refused("POST / HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi", "417 Expectation Failed");
}

TEST(HttpStrict, RequestTargetMustBeVisibleAscii) {
  for (std::string_view t : {"/a\x01", "/caf\xe9", "/\x7f"})
    expect_refused("GET " + std::string(t) + " HTTP/1.1\r\n\r\n", "400 Bad Request");
}

TEST(HttpStrict, ARepeatedBlockIsOnlyReusedWhenByteForByteTheSame) {
  // The session reuses the last parse for an identical block: a block of the
  // same length that differs in one byte must still be parsed (and refused).
  std::string bad(kGet);
  bad[bad.find("Host")] = '\x01';
  expect_refused(std::string(kGet) + std::string(kGet) + bad, "400 Bad Request", 2);
}

// ---- the loadgen's reply parser -------------------------------------------

// A server reply for one GET, made by our own server (so that it is right).
std::string good_reply() {
  auto session = make_server_session(Protocol::kHttp, {});
  return test::serve(*session, kGet, Split::kWhole).out;
}

ReplyResult check_replies(std::string_view replies, size_t requests, Split s) {
  auto client = make_client_session(Protocol::kHttp, 1);
  Buffer req;
  for (size_t i = 0; i < requests; ++i) client->build_request(i, 0, req);
  return test::check(*client, replies, s);
}

TEST(HttpClientStrict, MalformedRepliesAreFatal) {
  for (std::string_view bad : std::initializer_list<std::string_view>{
           "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nX: a\nb\r\n\r\nHello, World!",
           "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nX: a\0b\r\n\r\nHello, World!"sv,
           "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nBad Name: x\r\n\r\nHello, World!",
           "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Length: 12\r\n\r\nHello, World!",
           "HTTP/1.1 200 OK\r\nContent-Length: 1 3\r\n\r\nHello, World!",
           "HTTP/1.1 200\r\nContent-Length: 13\r\n\r\nHello, World!",
           "HTTP/1.2 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!",
           "HTTP/1.1 20x OK\r\nContent-Length: 13\r\n\r\nHello, World!",
           "HTTP/1.1 200 O\x01K\r\nContent-Length: 13\r\n\r\nHello, World!",
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nd\r\nHello, World!\r\n0\r\n\r\n",
           "HTTP/1.1 404 Not Found\r\n\r\n",
       }) {
    for (Split s : kAllSplits) {
      SCOPED_TRACE(testing::PrintToString(std::string(bad)) + " " + test::split_name(s));
      auto r = check_replies(bad, 1, s);
      EXPECT_TRUE(r.fatal);
      EXPECT_EQ(r.completed, 0u);
    }
  }
}

TEST(HttpClientStrict, InterimRepliesAreSkippedAndNoBodyStatusesHaveNone) {
  std::string in = "HTTP/1.1 100 Continue\r\n\r\n" + good_reply() +
                   "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n" + good_reply();
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto r = check_replies(in, 3, s);
    EXPECT_FALSE(r.fatal);
    EXPECT_EQ(r.completed, 3u);
    EXPECT_EQ(r.http_status, 0u);  // a 204 is 2xx: a success without a body (docs/design.md, "Protocols")
    EXPECT_EQ(r.mismatches, 0u);
  }
}

TEST(HttpClientStrict, ARepeatedHeadIsOnlyReusedWhenByteForByteTheSame) {
  std::string bad = good_reply();
  bad[bad.find("Server")] = '\x01';
  for (Split s : kAllSplits) {
    auto r = check_replies(good_reply() + good_reply() + bad, 3, s);
    EXPECT_EQ(r.completed, 2u) << test::split_name(s);
    EXPECT_TRUE(r.fatal);
  }
}

TEST(HttpClientStrict, A200WithTheWrongBodyIsAMismatchNotFatal) {
  std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello" + good_reply();
  for (Split s : kAllSplits) {
    auto r = check_replies(in, 2, s);
    EXPECT_FALSE(r.fatal) << test::split_name(s);
    EXPECT_EQ(r.completed, 2u);
    EXPECT_EQ(r.mismatches, 1u);
  }
}

}  // namespace
}  // namespace iomodels
