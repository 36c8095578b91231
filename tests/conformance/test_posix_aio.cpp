// posix_aio's trap: glibc runs AIO on a pool of helper threads (20 by default)
// and a blocking recv parks one helper per idle connection. With more
// connections than helpers, the request of the 21st queues behind parked reads
// and is never served. The server sizes the pool with aio_init; these tests
// hold 200 connections open and check each one is served, idle neighbours or
// not, with every byte intact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace iomodels::test {
namespace {

constexpr int kConnections = 200;  // ten times glibc's default aio_threads

TEST(PosixAio, ServesMoreConnectionsThanDefaultAioThreads) {
  const std::string path = server_path("posix_aio");
  if (path.empty()) GTEST_SKIP() << "posix_aio was not built";
  ASSERT_GE(raise_fd_limit(), uint64_t(kConnections + 50));

  ServerProcess server = ServerProcess::start(path, {"--port", "0"});
  std::vector<Fd> conns;
  for (int i = 0; i < kConnections; ++i) conns.push_back(connect_to(server.port()));

  // The last connections first, while all the others sit idle in a parked
  // aio_read: with 20 helpers these would never be answered.
  for (int i = kConnections - 1; i >= kConnections - 5; --i) {
    std::string msg = pattern(64, uint64_t(i));
    ASSERT_TRUE(send_all(conns[i].get(), msg));
    EXPECT_EQ(recv_exact(conns[i].get(), msg.size(), milliseconds(5000)), msg) << "conn " << i;
  }

  // Then everyone at once, a few rounds, sizes from 1 B to ~12 KiB: a message
  // may arrive in pieces, each one aio_read then one aio_write.
  int good = 0;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> sent;
    for (int i = 0; i < kConnections; ++i) {
      sent.push_back(pattern(1 + size_t((i * 197 + round * 1231) % 12000), uint64_t(round) << 16 | i));
      ASSERT_TRUE(send_all(conns[i].get(), sent.back())) << "conn " << i;
    }
    for (int i = 0; i < kConnections; ++i) {
      std::string got = recv_exact(conns[i].get(), sent[i].size(), milliseconds(5000));
      EXPECT_EQ(first_mismatch(got, sent[i]), std::string::npos)
          << "conn " << i << " round " << round << ": " << got.size() << " of " << sent[i].size();
      good += got == sent[i];
    }
  }
  EXPECT_EQ(good, kConnections * kRounds);

  // A large message both ways on one connection: strictly read → write →
  // read still echoes it while we read and write at once.
  std::string big = pattern(1 << 20, 42);
  ExchangeResult r = exchange(conns[0].get(), big, big.size());
  EXPECT_EQ(first_mismatch(r.received, big), std::string::npos) << r.received.size() << " bytes back";

  // SIGTERM with 200 helpers blocked in recv: shutdown(2) must release them.
  ExitStatus st = server.stop(SIGTERM, milliseconds(2000));
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  const nlohmann::json stats = server.read_stats();
  const auto& c = stats.at("counters");
  EXPECT_EQ(c.at("accepted").get<uint64_t>(), uint64_t(kConnections));
  EXPECT_EQ(c.at("rejected").get<uint64_t>(), 0u);
  EXPECT_EQ(c.at("bytes_in"), c.at("bytes_out"));
  EXPECT_GE(c.at("syscalls").value("aio_read", uint64_t(0)), uint64_t(kConnections));
  EXPECT_GT(c.at("syscalls").value("aio_write", uint64_t(0)), 0u);
}

}  // namespace
}  // namespace iomodels::test
