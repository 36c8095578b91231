// epoll_reuseport: N reactors, each with its own SO_REUSEPORT listener. What is
// specific to it: the kernel spreads connections over the threads' listeners
// (visible in the per-thread "threadK_accepted" counters), --max-connections
// stays a whole-server cap across threads, and a stop ends every thread.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace iomodels::test {
namespace {

std::string require_server() {
  std::string path = server_path("epoll_reuseport");
  return path;
}

bool echoes(int fd, const std::string& msg) {
  return send_all(fd, msg) && recv_exact(fd, msg.size(), milliseconds(5000)) == msg;
}

TEST(EpollReuseport, ConnectionsSpreadOverThreads) {
  const std::string path = require_server();
  if (path.empty()) GTEST_SKIP() << "epoll_reuseport was not built";
  constexpr int kThreads = 3;
  constexpr int kConnections = 96;  // P(all on one of 3 listeners) ≈ 3^-95
  ServerProcess server = ServerProcess::start(path, {"--port", "0", "--threads", std::to_string(kThreads)});

  // "listening" is printed before serve() binds the other threads' listeners,
  // and the kernel completes handshakes without the server running: a client
  // that connects in that instant lands on thread 0. One echo first proves
  // serve() is past the binds, so what follows measures the spreading.
  std::vector<Fd> conns;
  conns.push_back(connect_to(server.port()));
  ASSERT_TRUE(echoes(conns[0].get(), "first"));
  for (int i = 1; i < kConnections; ++i) conns.push_back(connect_to(server.port()));
  for (int i = 1; i < kConnections; ++i)
    ASSERT_TRUE(echoes(conns[i].get(), "conn " + std::to_string(i) + pattern(100, uint64_t(i)))) << i;

  // Stop with every connection still open: all threads must see the stop.
  ExitStatus st = server.stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  nlohmann::json stats = server.read_stats();
  EXPECT_EQ(stats.at("options").at("threads").get<int>(), kThreads);
  const auto& c = stats.at("counters");
  EXPECT_EQ(c.at("accepted").get<int>(), kConnections);
  EXPECT_EQ(c.at("closed").get<int>(), kConnections);
  const auto& extra = c.at("extra");
  int sum = 0, threads_used = 0;
  for (int t = 0; t < kThreads; ++t) {
    std::string key = "thread" + std::to_string(t) + "_accepted";
    ASSERT_TRUE(extra.contains(key)) << key << " missing in " << extra.dump();
    int n = extra.at(key).get<int>();
    sum += n;
    threads_used += n > 0;
  }
  EXPECT_EQ(sum, kConnections);
  EXPECT_GE(threads_used, 2) << "every connection landed on one thread: " << extra.dump();
}

TEST(EpollReuseport, MaxConnectionsIsServerWide) {
  const std::string path = require_server();
  if (path.empty()) GTEST_SKIP() << "epoll_reuseport was not built";
  constexpr int kCap = 10, kConnections = 24;
  ServerProcess server =
      ServerProcess::start(path, {"--port", "0", "--threads", "2", "--max-connections", std::to_string(kCap)});
  std::vector<Fd> conns;
  for (int i = 0; i < kConnections; ++i) conns.push_back(connect_to(server.port()));
  int served = 0, refused = 0;
  for (int i = 0; i < kConnections; ++i) {
    std::string msg = std::to_string(i) + " m";
    send_all(conns[i].get(), msg);  // may fail on a refused one
    std::string got = recv_exact(conns[i].get(), msg.size(), milliseconds(5000));
    if (got == msg) {
      ++served;
    } else {
      ASSERT_TRUE(got.empty()) << i;
      ASSERT_NE(wait_peer_end(conns[i].get(), milliseconds(3000)), PeerEnd::kOpen) << i;
      ++refused;
    }
  }
  EXPECT_EQ(served, kCap) << "the cap counts connections on all threads together";
  EXPECT_EQ(refused, kConnections - kCap);
  // Freed places are usable again.
  conns.clear();
  bool back = false;
  for (int attempt = 0; attempt < 50 && !back; ++attempt) {
    Fd c = connect_to(server.port());
    back = echoes(c.get(), "again");
  }
  EXPECT_TRUE(back);
  ExitStatus st = server.stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  EXPECT_GE(server.read_stats().at("counters").at("rejected").get<int>(), kConnections - kCap);
}

TEST(EpollReuseport, OneThreadStillServes) {
  const std::string path = require_server();
  if (path.empty()) GTEST_SKIP() << "epoll_reuseport was not built";
  ServerProcess server = ServerProcess::start(path, {"--port", "0", "--threads", "1"});
  Fd c = connect_to(server.port());
  std::string big = pattern(1 << 20, 7);
  ExchangeResult r = exchange(c.get(), big, big.size());
  EXPECT_EQ(first_mismatch(r.received, big), std::string::npos);
  ExitStatus st = server.stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  EXPECT_EQ(server.read_stats().at("counters").at("extra").at("thread0_accepted").get<int>(), 1);
}

}  // namespace
}  // namespace iomodels::test
