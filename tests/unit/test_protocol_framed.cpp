#include <gtest/gtest.h>

#include "tests/unit/test_protocol_util.h"

namespace iomodels {
namespace {

using test::kAllSplits;
using test::Split;
using After = ServeResult::After;

std::string frame(uint32_t len, char fill = 'a') {
  std::string f(4, '\0');
  f[0] = static_cast<char>(len >> 24);
  f[1] = static_cast<char>(len >> 16);
  f[2] = static_cast<char>(len >> 8);
  f[3] = static_cast<char>(len);
  return f + std::string(len, fill);
}

TEST(FramedServer, AnswersEveryFrameInAnySplit) {
  std::string in = frame(0) + frame(1, 'b') + frame(5, 'c') + frame(100, 'd') +
                   frame(70000, 'e') + frame(3, 'f');
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto session = make_server_session(Protocol::kFramed, {});
    auto o = test::serve(*session, in, s);
    EXPECT_EQ(o.out, in);
    EXPECT_EQ(o.messages, 6u);
    EXPECT_EQ(o.after, After::kContinue);
    EXPECT_EQ(session->pending_bytes(), 0u);
  }
}

TEST(FramedServer, ZeroLengthFrameRepliesWithItsHeader) {
  auto session = make_server_session(Protocol::kFramed, {});
  auto o = test::serve(*session, frame(0), Split::kWhole);
  EXPECT_EQ(o.out, std::string(4, '\0'));
  EXPECT_EQ(o.messages, 1u);
}

TEST(FramedServer, StoresAndForwardsOnlyWholeFrames) {
  auto session = make_server_session(Protocol::kFramed, {});
  std::string f = frame(1000);
  Buffer out;
  auto r = session->on_bytes({f.data(), 600}, out);
  EXPECT_TRUE(out.empty());  // nothing before the frame is complete
  EXPECT_EQ(r.messages, 0u);
  EXPECT_EQ(session->pending_bytes(), 600u);
  r = session->on_bytes({f.data() + 600, f.size() - 600}, out);
  EXPECT_EQ(r.messages, 1u);
  EXPECT_EQ(out.view(), f);
  EXPECT_EQ(session->pending_bytes(), 0u);
}

TEST(FramedServer, HugeLengthRejectedBeforeAnyAllocation) {
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto session = make_server_session(Protocol::kFramed, {});
    std::string in = "\xff\xff\xff\xff" + std::string(100, 'x');  // claims 4 GiB - 1
    Buffer out;
    After after = After::kContinue;
    size_t at = 0;
    for (size_t n : test::chunks(in.size(), s)) {
      after = session->on_bytes({in.data() + at, n}, out).after;
      at += n;
      // The claimed length is never staged for: at most the header is held.
      EXPECT_LE(session->pending_bytes(), kFrameHeaderBytes);
      if (at >= 4) {
        EXPECT_EQ(after, After::kProtocolError);
      }
    }
    EXPECT_TRUE(out.empty());
  }
}

TEST(FramedServer, LimitIsInclusiveAndFramesBeforeABadOneAreAnswered) {
  ProtocolLimits limits;
  limits.max_frame = 64;
  auto session = make_server_session(Protocol::kFramed, limits);
  std::string good = frame(64);
  auto o = test::serve(*session, good + frame(65), Split::kWhole);
  EXPECT_EQ(o.out, good);
  EXPECT_EQ(o.messages, 1u);
  EXPECT_EQ(o.after, After::kProtocolError);
  Buffer out;  // further input is ignored
  EXPECT_EQ(session->on_bytes({good.data(), good.size()}, out).after, After::kProtocolError);
  EXPECT_TRUE(out.empty());
}

TEST(FramedServer, PartialPayloadHeldIsOnlyWhatArrived) {
  auto session = make_server_session(Protocol::kFramed, {});
  std::string f = frame(1 << 20);  // the default limit, exactly
  Buffer out;
  session->on_bytes({f.data(), 10}, out);
  EXPECT_EQ(session->pending_bytes(), 10u);
  EXPECT_TRUE(out.empty());
}

TEST(FramedClient, VerifiesServerRepliesInAnySplit) {
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto client = make_client_session(Protocol::kFramed, 9);
    auto server = make_server_session(Protocol::kFramed, {});
    Buffer req;
    for (uint64_t seq = 0; seq < 5; ++seq) client->build_request(seq, seq * 300, req);  // 0 included
    auto o = test::serve(*server, req.view(), s);
    EXPECT_EQ(o.messages, 5u);
    auto r = test::check(*client, o.out, s);
    EXPECT_EQ(r.completed, 5u);
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_FALSE(r.fatal);
    EXPECT_EQ(client->outstanding(), 0u);
  }
}

TEST(FramedClient, FlippedPayloadByteIsAMismatch) {
  auto client = make_client_session(Protocol::kFramed, 9);
  Buffer req;
  client->build_request(0, 50, req);
  client->build_request(1, 50, req);
  std::string reply(req.view());
  reply[4 + 49] ^= 0x40;
  auto r = test::check(*client, reply, Split::kBytes);
  EXPECT_EQ(r.completed, 2u);
  EXPECT_EQ(r.mismatches, 1u);
  EXPECT_FALSE(r.fatal);
}

TEST(FramedClient, ReplyForAnotherSeqIsAMismatch) {
  auto client = make_client_session(Protocol::kFramed, 9);
  auto other = make_client_session(Protocol::kFramed, 9);
  Buffer req, wrong;
  client->build_request(5, 40, req);
  other->build_request(6, 40, wrong);
  auto r = test::check(*client, wrong.view(), Split::kRandom);
  EXPECT_EQ(r.completed, 1u);
  EXPECT_EQ(r.mismatches, 1u);
}

TEST(FramedClient, WrongLengthHeaderIsFatal) {
  auto client = make_client_session(Protocol::kFramed, 9);
  Buffer req;
  client->build_request(0, 50, req);
  std::string reply(req.view());
  reply[3] = 51;
  EXPECT_TRUE(test::check(*client, reply, Split::kWhole).fatal);
}

}  // namespace
}  // namespace iomodels
