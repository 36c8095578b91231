// io_uring and io_uring_multishot beyond the common suite.
//
// - 64 connections, each with 16 echo requests in flight, every reply byte
//   checked against what that connection sent: a completion model that lets
//   two sends of one socket run at once, or re-arms a recv late, reorders or
//   loses bytes here (io_uring(7): several sends in flight may reorder).
// - The same under a tiny provided-buffer ring (--buffers 2 --buffer-size 64):
//   multishot recvs end with -ENOBUFS all the time and must be re-armed as
//   buffers come back; a connection left waiting would stall the run.
// - A peer that stops reading must not pin the shared ring: others still echo.
// - Framed frames larger than a ring buffer, split over many completions.
// - The setup probes: a refused combination exits 2 and names the feature.
// Servers that exit 2 (a kernel without the feature) are skipped with the reason.
#include <poll.h>
#include <sys/wait.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace iomodels::test {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string server;
  std::vector<std::string> args;
  std::string label;
};
void PrintTo(const Config& c, std::ostream* os) { *os << c.label; }

// Starts the server and checks one echo; a server that exited 2 (the kernel
// lacks a feature it needs) turns into a skip.
std::optional<ServerProcess> start_or_skip(const Config& c, std::string& skip_reason) {
  std::string path = server_path(c.server);
  if (path.empty()) {
    skip_reason = c.server + " was not built";
    return std::nullopt;
  }
  std::vector<std::string> args = {"--port", "0"};
  args.insert(args.end(), c.args.begin(), c.args.end());
  ServerProcess server = ServerProcess::start(path, args);
  bool ok = false;
  try {
    Fd fd = connect_to(server.port(), {.io_timeout = milliseconds(2000)});
    ok = send_all(fd.get(), "x") && recv_exact(fd.get(), 1, milliseconds(2000)) == "x";
  } catch (const std::exception&) {
  }
  if (!ok && !server.running()) {
    ExitStatus st = server.wait(milliseconds(500));
    if (st.exited && st.exit_code == 2) {
      skip_reason = c.label + ": exits 2, a kernel feature is missing (see its stderr)";
      return std::nullopt;
    }
  }
  EXPECT_TRUE(ok) << c.label << ": first echo failed";
  return server;
}

// Closed-loop pipelined echo: each connection keeps `depth` messages of
// varying size outstanding; replies are compared byte by byte with the stream
// that connection sent. Returns a failure description, or "" on success.
std::string pipelined_echo(uint16_t port, int conns, int msgs, int depth, size_t max_size) {
  struct Peer {
    Fd fd;
    std::string out;
    std::vector<size_t> ends;  // end offset of each message in `out`
    size_t sent = 0, got = 0;
  };
  std::vector<Peer> peers(conns);
  for (int c = 0; c < conns; ++c) {
    Peer& p = peers[c];
    p.fd = connect_to(port);
    for (int m = 0; m < msgs; ++m) {
      size_t size = 1 + (size_t(c) * 7919 + size_t(m) * 104729) % max_size;
      p.out += pattern(size, uint64_t(c) << 32 | uint64_t(m));
      p.ends.push_back(p.out.size());
    }
  }
  std::vector<char> buf(1 << 16);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  size_t done = 0;
  while (done < peers.size()) {
    if (Clock::now() > deadline) return "no progress before the deadline (stalled?)";
    std::vector<pollfd> pfds;
    std::vector<size_t> limit;
    for (Peer& p : peers) {
      size_t answered = std::upper_bound(p.ends.begin(), p.ends.end(), p.got) - p.ends.begin();
      size_t lim = p.ends[std::min(answered + depth, p.ends.size()) - 1];
      limit.push_back(lim);
      short ev = p.got < p.out.size() ? POLLIN : 0;
      if (p.sent < lim) ev |= POLLOUT;
      pfds.push_back({p.fd.get(), ev, 0});
    }
    if (::poll(pfds.data(), pfds.size(), 1000) < 0 && errno != EINTR) return "poll failed";
    for (size_t i = 0; i < peers.size(); ++i) {
      Peer& p = peers[i];
      if (pfds[i].revents & POLLOUT) {
        ssize_t n = ::send(p.fd.get(), p.out.data() + p.sent, limit[i] - p.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) p.sent += size_t(n);
      }
      if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(p.fd.get(), buf.data(), std::min(buf.size(), p.out.size() - p.got), MSG_DONTWAIT);
        if (n == 0) return "connection " + std::to_string(i) + " closed at byte " + std::to_string(p.got);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;
          return "connection " + std::to_string(i) + ": recv error " + std::to_string(errno);
        }
        std::string_view want(p.out.data() + p.got, size_t(n));
        size_t bad = first_mismatch(want, {buf.data(), size_t(n)});
        if (bad != std::string::npos)
          return "connection " + std::to_string(i) + ": wrong byte at offset " + std::to_string(p.got + bad);
        p.got += size_t(n);
        if (p.got == p.out.size()) ++done;
      }
    }
  }
  return "";
}

class IoUringPipelined : public ::testing::TestWithParam<Config> {};

TEST_P(IoUringPipelined, SixtyFourConnectionsSixteenDeepEveryByteInOrder) {
  std::string skip;
  auto server = start_or_skip(GetParam(), skip);
  if (!server) GTEST_SKIP() << skip;
  EXPECT_EQ(pipelined_echo(server->port(), 64, 96, 16, 2000), "");
  ExitStatus st = server->stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  auto stats = server->read_stats();
  const auto& k = stats["counters"];
  EXPECT_EQ(k["bytes_in"], k["bytes_out"]);  // echo: everything that came in went out
  EXPECT_GT(k["syscalls"].value("io_uring_enter", 0), 0);
  EXPECT_EQ(k["accepted"], k["closed"]);
  if (GetParam().label == "multishot_tiny_ring") {  // the point of that case: recovery happened
    EXPECT_GT(k["extra"].value("enobufs", 0), 0) << "the ring never ran dry: the case tested nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Completion, IoUringPipelined,
    ::testing::Values(Config{"io_uring", {}, "io_uring"},
                      Config{"io_uring_multishot", {}, "multishot"},
                      Config{"io_uring_multishot", {"--buffers", "2", "--buffer-size", "64"}, "multishot_tiny_ring"},
                      Config{"io_uring_multishot", {"--sqpoll", "1", "--setup", "plain"}, "multishot_sqpoll"},
                      Config{"io_uring_multishot", {"--setup", "plain"}, "multishot_plain"},
                      Config{"io_uring_multishot", {"--setup", "coop"}, "multishot_coop"},
                      Config{"io_uring", {"--setup", "plain"}, "io_uring_plain"},
                      Config{"io_uring", {"--register-ring-fd", "0"}, "io_uring_unregistered_ring"}),
    [](const auto& p) { return p.param.label; });

// One peer floods and never reads. Zero-copy echo would pin a ring buffer per
// send stuck behind it; the server must fall back to copying so that 16 other
// connections still get every echo through an 8-buffer ring.
TEST(IoUringMultishot, PeerThatStopsReadingDoesNotStarveTheRing) {
  std::string skip;
  auto server = start_or_skip({"io_uring_multishot", {"--buffers", "8", "--buffer-size", "1024"}, "small ring"}, skip);
  if (!server) GTEST_SKIP() << skip;
  Fd hog = connect_to(server->port(), {.rcvbuf = 4096});
  size_t pushed = send_until_stalled(hog.get(), pattern(8 << 20, 99), milliseconds(500), milliseconds(8000));
  EXPECT_GT(pushed, 0u);
  EXPECT_EQ(pipelined_echo(server->port(), 16, 32, 4, 3000), "");
  ExitStatus st = server->stop();
  EXPECT_TRUE(st.exited && st.exit_code == 0) << st.describe();
}

// Framed replies come from the Connection path (copied), so ring buffers go
// back at once; frames of 20 KB cross many 64-byte buffers.
TEST(IoUringMultishot, FramedFramesSpanManyRingBuffers) {
  std::string skip;
  Config c{"io_uring_multishot", {"--protocol", "framed", "--buffers", "4", "--buffer-size", "64"}, "framed"};
  std::string path = server_path(c.server);
  if (path.empty()) GTEST_SKIP() << "io_uring_multishot was not built";
  ServerProcess server = ServerProcess::start(path, {"--port", "0", "--protocol", "framed", "--buffers", "4",
                                                     "--buffer-size", "64"});
  for (int conn = 0; conn < 4; ++conn) {
    Fd fd = connect_to(server.port());
    std::string req;
    for (int i = 0; i < 5; ++i) req += frame(pattern(20000 + size_t(i), uint64_t(conn * 10 + i)));
    ExchangeResult r = exchange(fd.get(), req, req.size());
    ASSERT_EQ(r.received.size(), req.size()) << "conn " << conn;
    EXPECT_EQ(first_mismatch(r.received, req), std::string::npos) << "conn " << conn;
  }
  ExitStatus st = server.stop();
  EXPECT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  EXPECT_EQ(server.read_stats()["counters"]["messages"], 20);
}

// --sqpoll with DEFER_TASKRUN is refused by the kernel; the server says so
// and exits 2 rather than running some other setup. A --setup word it does
// not know is a usage error: exit 2 naming the option.
TEST(IoUringMultishot, RefusedSetupExitsTwo) {
  std::string path = server_path("io_uring_multishot");
  if (path.empty()) GTEST_SKIP() << "io_uring_multishot was not built";
  ServerProcess server = ServerProcess::start(path, {"--port", "0", "--sqpoll", "1", "--setup", "defer"},
                                              {.stats_file = false});
  ExitStatus st = server.wait(milliseconds(3000));
  EXPECT_TRUE(st.exited && st.exit_code == 2) << st.describe();
  for (const char* name : {"io_uring", "io_uring_multishot"}) {
    // A usage error exits before listening (stderr folded in).
    CommandOutput r = run_command(server_path(name) + " --port 0 --setup fast 2>&1");
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.output;
    EXPECT_NE(r.output.find("--setup"), std::string::npos) << name << ": " << r.output;
  }
}

// The default is the recommended setup, reported in the stats: defer, or coop
// where the kernel refused DEFER_TASKRUN (then also setup_fallback_coop).
TEST(IoUring, DefaultSetupIsDeferTaskrunAndReported) {
  for (const char* name : {"io_uring", "io_uring_multishot"}) {
    std::string skip;
    auto server = start_or_skip({name, {}, name}, skip);
    if (!server) GTEST_SKIP() << skip;
    ExitStatus st = server->stop();
    ASSERT_TRUE(st.exited && st.exit_code == 0) << name << ": " << st.describe();
    auto stats = server->read_stats();
    EXPECT_EQ(stats["options"]["setup"], "defer") << name;
    const auto& x = stats["counters"]["extra"];
    EXPECT_TRUE(x.value("setup_defer", 0) == 1 || (x.value("setup_coop", 0) == 1 && x.value("setup_fallback_coop", 0) == 1))
        << name << ": " << x.dump();
  }
}

// With many idle connections, io_uring keeps one recv (and its buffer) armed
// per connection; a stop must cancel all of them and still exit 0 at once.
// A model that failed to cancel would still exit 0, through its 500 ms
// give-up path: that path is counted (extra.stop_ops_abandoned) and must not run.
TEST(IoUring, StopCancelsEveryRecvInFlight) {
  for (const char* name : {"io_uring", "io_uring_multishot"}) {
    std::string skip;
    auto server = start_or_skip({name, {}, name}, skip);
    if (!server) GTEST_SKIP() << skip;
    std::vector<Fd> idle;
    for (int i = 0; i < 300; ++i) idle.push_back(connect_to(server->port()));
    ASSERT_TRUE(send_all(idle.back().get(), "ping"));
    ASSERT_EQ(recv_exact(idle.back().get(), 4), "ping");  // all 300 accepted by now
    ExitStatus st = server->stop(SIGTERM, milliseconds(3000));
    EXPECT_TRUE(st.exited && st.exit_code == 0) << name << ": " << st.describe();
    auto k = server->read_stats()["counters"];
    EXPECT_EQ(k["accepted"], k["closed"]) << name;
    EXPECT_EQ(k.value("extra", nlohmann::json::object()).value("stop_ops_abandoned", 0), 0)
        << name << ": the stop gave up on ops still in flight instead of cancelling them";
    for (Fd& fd : idle) EXPECT_NE(wait_peer_end(fd.get(), milliseconds(2000)), PeerEnd::kOpen) << name;
  }
}


// Issue 22: a budget refusal in echo mode. Echo is zero-copy from the ring
// buffers, beside Connection; with a ring of 8 a few held buffers send the
// rest down the copy path, which is refused at once (--max-buffered-bytes 1).
// The connection then lingers, its write side shut: what it still reads must
// be dropped, never queued as an echo (a send on a shut socket fails EPIPE,
// the close then finds data unread and the peer gets a RST, not the FIN).
TEST(IoUringMultishot, EchoRefusedOverBudgetLingersWithFin) {
  std::string skip;
  auto server = start_or_skip({"io_uring_multishot", {"--max-buffered-bytes", "1", "--buffers", "8", "--buffer-size", "4096"}, "ring of 8"}, skip);
  if (!server) GTEST_SKIP() << skip;
  Fd c = connect_to(server->port());
  const std::string burst = pattern(80 * 1000, 9);
  ASSERT_TRUE(send_all(c.get(), burst));
  std::string echoed;
  PeerEnd end = wait_peer_end(c.get(), milliseconds(10000), &echoed);
  ASSERT_EQ(end, PeerEnd::kClosed) << "refused: a FIN was owed, got " << peer_end_name(end);
  EXPECT_LT(echoed.size(), burst.size()) << "the budget refused nothing";
  for (int i = 0; i < 6; ++i) {  // still lingering: dropped, no RST
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(::send(c.get(), "z", 1, MSG_NOSIGNAL), 1) << "send " << i;
  }
  c.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ExitStatus st = server->stop();
  ASSERT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  auto k = server->read_stats()["counters"];
  EXPECT_EQ(k["peer_resets"], 0) << k.dump();
  EXPECT_GE(k["extra"].value("buffer_budget_refusals", 0), 1) << k.dump();
  EXPECT_EQ(k["unexpected_errors"], 0) << k.dump();
}

// --exit-after-bytes: the server stops by itself once it has sent that many
// reply bytes (the way callgrind runs end it), exits 0 and writes its stats.
TEST(IoUringMultishot, ExitAfterBytesStopsByItself) {
  std::string path = server_path("io_uring_multishot");
  if (path.empty()) GTEST_SKIP() << "io_uring_multishot was not built";
  ServerProcess server = ServerProcess::start(path, {"--port", "0", "--exit-after-bytes", "4096"});
  Fd fd = connect_to(server.port());
  std::string msg = pattern(4096, 7);
  ExchangeResult r = exchange(fd.get(), msg, msg.size());
  ASSERT_EQ(r.received.size(), msg.size());
  EXPECT_EQ(first_mismatch(r.received, msg), std::string::npos);
  ExitStatus st = server.wait(milliseconds(3000));
  EXPECT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  EXPECT_GE(server.read_stats()["counters"]["bytes_out"].get<uint64_t>(), 4096u);
}

}  // namespace
}  // namespace iomodels::test
