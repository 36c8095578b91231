// What is specific to the framework models (asio, libuv): the library makes the
// syscalls, and the server counts them by link-time wrapping; they own
// SIGTERM/SIGINT (asio::signal_set, uv_signal); Asio's operations live in the
// connection's recycled handler memory; libuv's write requests are recycled,
// and --try-write 0 (every reply through uv_write) still echoes correctly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace iomodels::test {
namespace {

struct Traffic {
  int round_trips = 0;
  int64_t bytes = 0;
};

// Ping-pong on one connection, then 16 deep pipelines of mixed sizes on four
// more (short and long writes, replies queued behind a write in flight).
Traffic drive(uint16_t port, int rounds) {
  Traffic t;
  Fd c = connect_to(port);
  for (int i = 0; i < rounds; ++i) {
    std::string msg = "ping " + std::to_string(i);
    EXPECT_TRUE(send_all(c.get(), msg));
    EXPECT_EQ(recv_exact(c.get(), msg.size()), msg) << i;
    ++t.round_trips;
    t.bytes += int64_t(msg.size());
  }
  std::vector<Fd> conns;
  for (int i = 0; i < 4; ++i) conns.push_back(connect_to(port));
  for (int i = 0; i < 4; ++i) {
    std::string burst;
    for (int j = 0; j < 16; ++j) burst += pattern(size_t(64) << (j % 12), uint64_t(100 * i + j));
    ExchangeResult r = exchange(conns[i].get(), burst, burst.size());
    EXPECT_EQ(first_mismatch(r.received, burst), std::string::npos) << "connection " << i;
    t.bytes += int64_t(burst.size());
  }
  return t;
}

class Framework : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    path_ = server_path(GetParam());
    ASSERT_FALSE(path_.empty()) << GetParam() << " is in the server list but was not built";
  }
  nlohmann::json run(std::vector<std::string> args, int rounds, Traffic* t, int signal = SIGTERM) {
    args.insert(args.begin(), {"--port", "0"});
    ServerProcess server = ServerProcess::start(path_, args);
    *t = drive(server.port(), rounds);
    ExitStatus st = server.stop(signal);
    EXPECT_TRUE(st.exited && st.exit_code == 0) << st.describe();
    return server.read_stats();
  }
  std::string path_;
};

// The counts come from the wrapped libc calls: every round trip is at least one
// read and one write call, every wakeup an epoll_wait, and the one-registration
// design shows as an epoll_ctl count that does not grow with the messages.
TEST_P(Framework, CountsTheSyscallsTheLibraryMakes) {
  constexpr int kRounds = 300;
  Traffic t;
  nlohmann::json stats = run({}, kRounds, &t, SIGINT);
  const auto& c = stats.at("counters");
  const auto& sc = c.at("syscalls");
  const bool asio = GetParam() == "asio";
  int64_t reads = sc.value(asio ? "recv" : "read", int64_t(0));
  int64_t writes = sc.value(asio ? "send" : "write", int64_t(0));
  EXPECT_GE(reads, kRounds) << sc.dump();
  EXPECT_GE(writes, kRounds) << sc.dump();
  EXPECT_GE(sc.value("epoll_wait", int64_t(0)), c.at("wakeups").get<int64_t>()) << sc.dump();
  EXPECT_GT(c.at("wakeups").get<int64_t>(), 0);
  // Registration per connection (5 here) plus a few for the listener, the
  // signal pipe, the timer and the write watchers of the long bursts.
  EXPECT_LT(sc.value("epoll_ctl", int64_t(0)), 60) << sc.dump();
  EXPECT_GE(sc.value(asio ? "accept" : "accept4", int64_t(0)), 5) << sc.dump();
  EXPECT_EQ(c.at("bytes_in").get<int64_t>(), t.bytes);
  EXPECT_EQ(c.at("bytes_out").get<int64_t>(), t.bytes);
  EXPECT_EQ(c.at("accepted").get<int>(), 5);
  EXPECT_EQ(c.at("closed").get<int>(), 5);
  // A completion handler (asio: per read and per write) or callback (libuv: per
  // read; a write that uv_try_write finishes has none) per operation.
  EXPECT_GE(c.at("events").get<int64_t>(), (asio ? 2 : 1) * kRounds);
}

INSTANTIATE_TEST_SUITE_P(Models, Framework, ::testing::Values("asio", "libuv"),
                         [](const auto& param_info) { return param_info.param; });

// Every operation Asio allocated fitted the connection's handler memory: no
// heap allocation per read or write (the counter appears only when one did not).
TEST(AsioServer, OperationsLiveInHandlerMemory) {
  const std::string path = server_path("asio");
  ASSERT_FALSE(path.empty()) << "asio is in the server list but was not built";
  ServerProcess server = ServerProcess::start(path, {"--port", "0"});
  drive(server.port(), 50);
  ExitStatus st = server.stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  nlohmann::json stats = server.read_stats();
  EXPECT_FALSE(stats.at("counters").at("extra").contains("handler_heap_allocations")) << stats.dump();
}

// --try-write 0: each reply batch is a uv_write request; requests are recycled,
// so a few are made however many messages pass.
TEST(LibuvServer, WriteRequestsAreRecycled) {
  const std::string path = server_path("libuv");
  ASSERT_FALSE(path.empty()) << "libuv is in the server list but was not built";
  constexpr int kRounds = 300;
  for (const char* setting : {"0", "1"}) {
    SCOPED_TRACE(std::string("--try-write ") + setting);
    ServerProcess server = ServerProcess::start(path, {"--port", "0", "--try-write", setting});
    Traffic t = drive(server.port(), kRounds);
    ExitStatus st = server.stop();
    ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
    nlohmann::json stats = server.read_stats();
    EXPECT_EQ(stats.at("options").at("try-write").get<int>(), std::stoi(setting));
    const auto& c = stats.at("counters");
    EXPECT_EQ(c.at("bytes_out").get<int64_t>(), t.bytes);
    int64_t uv_writes = c.at("extra").at("uv_writes").get<int64_t>();
    int64_t made = c.at("extra").at("write_reqs_made").get<int64_t>();
    if (std::string(setting) == "0") EXPECT_GE(uv_writes, kRounds);
    else EXPECT_LT(uv_writes, kRounds / 2) << "small replies should go out by uv_try_write";
    EXPECT_LE(made, 16) << uv_writes << " uv_writes";
  }
}

}  // namespace
}  // namespace iomodels::test
