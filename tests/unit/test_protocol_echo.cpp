#include <gtest/gtest.h>

#include "core/payload.h"
#include "tests/unit/test_protocol_util.h"

namespace iomodels {
namespace {

using test::kAllSplits;
using test::Split;

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(ProtocolNames, ParseAndName) {
  for (auto p : {Protocol::kEcho, Protocol::kFramed, Protocol::kHttp}) {
    EXPECT_EQ(parse_protocol(protocol_name(p)), p);
  }
  EXPECT_FALSE(parse_protocol("ECHO").has_value());
  EXPECT_FALSE(parse_protocol("").has_value());
}

TEST(EchoServer, ForwardsBytesInAnySplit) {
  std::string in = random_bytes(5000, 1);
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto session = make_server_session(Protocol::kEcho, {});
    auto o = test::serve(*session, in, s);
    EXPECT_EQ(o.out, in);
    EXPECT_EQ(o.messages, o.calls);  // one per read that carried data
    EXPECT_EQ(o.after, ServeResult::After::kContinue);
    EXPECT_EQ(session->pending_bytes(), 0u);
  }
}

TEST(EchoServer, EmptyInputIsNoMessage) {
  auto session = make_server_session(Protocol::kEcho, {});
  Buffer out;
  EXPECT_EQ(session->on_bytes({}, out).messages, 0u);
  EXPECT_TRUE(out.empty());
}

TEST(EchoClient, VerifiesRepliesInAnySplit) {
  for (Split s : kAllSplits) {
    SCOPED_TRACE(test::split_name(s));
    auto client = make_client_session(Protocol::kEcho, 3);
    Buffer req;
    for (uint64_t seq = 0; seq < 6; ++seq) client->build_request(seq, seq * 700 + 1, req);
    EXPECT_EQ(client->outstanding(), 6u);
    auto r = test::check(*client, req.view(), s);
    EXPECT_EQ(r.completed, 6u);
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_FALSE(r.fatal);
    EXPECT_EQ(client->outstanding(), 0u);
  }
}

TEST(EchoClient, FlippedByteIsAMismatchAndStillCompletes) {
  auto client = make_client_session(Protocol::kEcho, 3);
  Buffer req;
  for (uint64_t seq = 0; seq < 3; ++seq) client->build_request(seq, 100, req);
  std::string reply(req.view());
  reply[150] ^= 0x01;  // inside the second request
  auto r = test::check(*client, reply, Split::kRandom);
  EXPECT_EQ(r.completed, 3u);
  EXPECT_EQ(r.mismatches, 1u);
  EXPECT_FALSE(r.fatal);
}

TEST(EchoClient, ReplyForAnotherSeqOrConnectionIsAMismatch) {
  auto client = make_client_session(Protocol::kEcho, 3);
  Buffer req;
  client->build_request(1, 64, req);
  client->build_request(2, 64, req);
  std::string wrong(128, '\0');
  payload_fill(3, 2, 0, {wrong.data(), 64});       // seq 2 where seq 1 is owed
  payload_fill(4, 2, 0, {wrong.data() + 64, 64});  // right seq, wrong connection
  auto r = test::check(*client, wrong, Split::kWhole);
  EXPECT_EQ(r.completed, 2u);
  EXPECT_EQ(r.mismatches, 2u);
}

TEST(EchoClient, BytesNobodyAskedForAreFatal) {
  auto client = make_client_session(Protocol::kEcho, 3);
  Buffer req;
  client->build_request(0, 10, req);
  std::string reply(req.view());
  reply += "x";
  auto r = test::check(*client, reply, Split::kWhole);
  EXPECT_EQ(r.completed, 1u);
  EXPECT_TRUE(r.fatal);
  EXPECT_TRUE(client->on_bytes({}).fatal);  // and it stays so
}

TEST(EchoClient, EmptyRequestIsRefused) {
  auto client = make_client_session(Protocol::kEcho, 3);
  Buffer req;
  EXPECT_THROW(client->build_request(0, 0, req), std::invalid_argument);
}

}  // namespace
}  // namespace iomodels
