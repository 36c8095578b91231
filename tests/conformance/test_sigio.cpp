// sigio's one trap worth its own test: the RT signal queue overflowing.
//
// Under `prlimit --sigpending=8` the kernel can queue only eight RT signals, so
// 200 busy connections overflow it at once and the kernel falls back to plain
// SIGIO, losing which fds were ready. The server must then drain the queue and
// poll every connection: every echo still comes back intact, and the stats
// count the overflows (counters.extra.rt_overflows). With a signalfd the drain
// reads the same queue through it.
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace iomodels::test {
namespace {

constexpr int kConnections = 200;
constexpr int kRounds = 10;

// Sizes that vary per connection and round, 1 B .. ~6 KiB, so some replies
// take more than one send and some connections finish before others.
size_t size_for(int conn, int round) { return 1 + size_t((conn * 131 + round * 977) % 6000); }

// Both ways of taking the signals: a signalfd (the default) and sigwaitinfo.
class SigioWait : public ::testing::TestWithParam<const char*> {};

TEST_P(SigioWait, RtQueueOverflowLosesNoEcho) {
  const std::string path = server_path("sigio");
  if (path.empty()) GTEST_SKIP() << "sigio was not built";
  if (std::string why = prlimit_missing(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_GE(raise_fd_limit(), uint64_t(kConnections + 50));

  ServerProcess server =
      ServerProcess::start(kPrlimitPath, {"--sigpending=8", path, "--port", "0", "--wait", GetParam()});
  std::vector<Fd> conns;
  for (int i = 0; i < kConnections; ++i) conns.push_back(connect_to(server.port()));

  int good = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Everyone sends before anyone reads: 200 events land at once, far more
    // than the eight the queue holds.
    std::vector<std::string> sent;
    for (int i = 0; i < kConnections; ++i) {
      sent.push_back(pattern(size_for(i, round), uint64_t(round) * 1000 + i));
      ASSERT_TRUE(send_all(conns[i].get(), sent.back())) << "conn " << i << " round " << round;
    }
    for (int i = 0; i < kConnections; ++i) {
      std::string got = recv_exact(conns[i].get(), sent[i].size(), milliseconds(5000));
      EXPECT_EQ(first_mismatch(got, sent[i]), std::string::npos)
          << "conn " << i << " round " << round << ": " << got.size() << " of " << sent[i].size() << " bytes";
      good += got == sent[i];
    }
  }
  EXPECT_EQ(good, kConnections * kRounds);

  conns.clear();
  ExitStatus st = server.stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  nlohmann::json stats = server.read_stats();
  const auto& c = stats.at("counters");
  EXPECT_EQ(c.at("accepted").get<uint64_t>(), uint64_t(kConnections));
  EXPECT_EQ(c.at("bytes_in"), c.at("bytes_out"));
  ASSERT_TRUE(c.at("extra").contains("rt_overflows")) << c.dump();
  EXPECT_GT(c.at("extra").at("rt_overflows").get<uint64_t>(), 0u) << c.dump();
  // The wait it was asked for: sigwaitinfo calls, or reads of the signalfd.
  const char* wait_call = std::string(GetParam()) == "signalfd" ? "read" : "sigwaitinfo";
  EXPECT_GT(c.at("syscalls").value(wait_call, uint64_t(0)), 0u) << c.dump();
  EXPECT_EQ(stats.at("options").at("wait"), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Waits, SigioWait, ::testing::Values("signalfd", "sigwaitinfo"),
                         [](const auto& param_info) { return std::string(param_info.param); });

// Without the limit the queue should not overflow at this load, and the same
// traffic is served purely from si_fd: the overflow path is the exception.
TEST(Sigio, StatsCountSignalsAndFcntls) {
  const std::string path = server_path("sigio");
  if (path.empty()) GTEST_SKIP() << "sigio was not built";
  ServerProcess server = ServerProcess::start(path, {"--port", "0"});
  std::vector<Fd> conns;
  for (int i = 0; i < 4; ++i) conns.push_back(connect_to(server.port()));
  // Two rounds: connections queued before serve() started are accepted and
  // serviced without any signal, so only the second round, sent once every fd
  // is armed with O_ASYNC, is sure to arrive as signals.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 4; ++i) {
      std::string msg = pattern(100 + i, i + round);
      ASSERT_TRUE(send_all(conns[i].get(), msg));
      EXPECT_EQ(recv_exact(conns[i].get(), msg.size()), msg);
    }
  }
  conns.clear();
  ExitStatus st = server.stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  const nlohmann::json stats = server.read_stats();
  const auto& c = stats.at("counters");
  // Three fcntl per fd (F_SETOWN_EX, F_SETSIG, F_SETFL): the listener and 4 connections.
  EXPECT_EQ(c.at("syscalls").value("fcntl", uint64_t(0)), 15u);
  EXPECT_GT(c.at("wakeups").get<uint64_t>(), 0u);
}

}  // namespace
}  // namespace iomodels::test
