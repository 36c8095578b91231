// Conformance, part 3: many connections, resets, half-close, back-pressure.
#include <thread>

#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

TEST_P(Conformance, ThousandConcurrentConnections) {
  constexpr int kConns = 1000;
  ASSERT_GE(raise_fd_limit(), uint64_t(kConns + 64)) << "this test needs ~1100 fds";
  start("echo");
  std::vector<Fd> conns;
  conns.reserve(kConns);
  for (int i = 0; i < kConns; ++i) conns.push_back(connect_to(server().port()));
  // All open at once: every one sends before any reads.
  auto msg = [](int i) { return "conn " + std::to_string(i) + " " + pattern(24, uint64_t(i)); };
  for (int i = 0; i < kConns; ++i) ASSERT_TRUE(send_all(conns[i].get(), msg(i))) << i;
  int bad = 0, first_bad = -1;
  for (int i = 0; i < kConns; ++i) {
    if (recv_exact(conns[i].get(), msg(i).size(), kIo) != msg(i)) {
      ++bad;
      if (first_bad < 0) first_bad = i;
    }
  }
  EXPECT_EQ(bad, 0) << "connections without their own echo; first: " << first_bad;
  // A second round on a sample: they are still being served.
  for (int i = 0; i < kConns; i += 97) EXPECT_TRUE(echoes(conns[i].get(), "again " + msg(i))) << i;
  // Stop with all of them open: the stop must still be prompt, and count them closed.
  nlohmann::json stats = stop_and_stats();
  EXPECT_EQ(counter(stats, "accepted"), kConns);
  EXPECT_EQ(counter(stats, "rejected"), 0);
  EXPECT_EQ(counter(stats, "closed"), kConns);
}

// Out of fds, accept fails with EMFILE while the backlog stays non-empty: a
// server must shed (spare-fd trick) or back off, never spin, and must serve
// again once fds come back.
TEST_P(Conformance, EmfileOnAcceptDoesNotSpin) {
  constexpr int kLimit = 24, kConns = 40;
  // Started under the limit (soft and hard, so server_main cannot raise it):
  // io_uring_multishot's multishot accept reads RLIMIT_NOFILE when it is
  // armed, so a limit lowered on the running server would not reach it.
  if (std::string why = prlimit_missing(); !why.empty()) GTEST_SKIP() << why;
  start_under({kPrlimitPath, "--nofile=" + std::to_string(kLimit)});
  {  // serving first: start-up must fit under the limit with room to accept
    Fd warm = connect_to(server().port());
    ASSERT_TRUE(echoes(warm.get(), "warm"));
  }
  ASSERT_LT(open_fd_count(server().pid()) + 4, kLimit) << "start-up used most of the limit";
  std::vector<Fd> conns;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(connect_to(server().port()));
    send_all(conns.back().get(), "x");  // a shed one may already be closed
  }
  std::this_thread::sleep_for(milliseconds(300));  // time in which a spinning loop would show
  // The first ones fit under the limit, so some must be served. Not
  // necessarily conns[0]: with SO_REUSEPORT (epoll_reuseport) each reactor has
  // its own backlog, and conns[0] may wait in one whose reactor has no fd left.
  int served = recv_exact(conns[0].get(), 1, kIo) == "x";
  for (size_t i = 1; i < conns.size(); ++i) served += recv_exact(conns[i].get(), 1, milliseconds(20)) == "x";
  ASSERT_GE(served, 1) << "the fds it had must still serve";
  EXPECT_LT(served, kConns) << "RLIMIT_NOFILE did not limit the accepted sockets: EMFILE never happened";
  EXPECT_TRUE(server().running());
  conns.clear();
  bool back = false;  // closes reach the server asynchronously: bounded retry
  for (int attempt = 0; attempt < 50 && !back; ++attempt) {
    Fd c = connect_to(server().port(), ConnectOptions{.io_timeout = milliseconds(500)});
    back = exchange(c.get(), "again", 5, milliseconds(200)).received == "again";
  }
  EXPECT_TRUE(back) << "not serving again after the fds came back";
  nlohmann::json stats = stop_and_stats();
  // nonblocking_spin calls accept on every pass by design (its own test file
  // covers its --idle-sleep-us); for the others a loop spinning on EMFILE for
  // 300 ms makes tens of thousands of accept calls, shedding or backing off a few hundred.
  if (GetParam().name == "nonblocking_spin") return;
  const auto& sc = stats.at("counters").at("syscalls");
  uint64_t accepts = sc.value("accept", uint64_t(0)) + sc.value("accept4", uint64_t(0));
  EXPECT_LT(accepts, 5000u) << sc.dump();
  // The completion models make no accept call to count: a re-armed accept
  // failing with EMFILE again and again shows as loop turns instead.
  EXPECT_LT(counter(stats, "wakeups"), 5000) << stats.at("counters").dump();
}

TEST_P(Conformance, ResetMidFrameLeavesOthersServed) {
  start("framed");
  Fd other = connect_to(server().port());
  ASSERT_TRUE(echoes(other.get(), frame(pattern(100, 1))));
  Fd victim = connect_to(server().port());
  ASSERT_TRUE(send_all(victim.get(), frame_header(1000) + pattern(500, 2)));  // half a frame
  std::this_thread::sleep_for(milliseconds(20));  // let the server read the half (not required)
  reset_connection(victim);
  EXPECT_TRUE(echoes(other.get(), frame(pattern(100, 3))));
  Fd fresh = connect_to(server().port());
  EXPECT_TRUE(echoes(fresh.get(), frame(pattern(5000, 4))));
  EXPECT_TRUE(server().running());
  stop_and_stats();
}

// The server is mid-send to a peer that resets: the send fails with
// ECONNRESET/EPIPE, which must cost that connection only (and no SIGPIPE).
TEST_P(Conformance, ResetWhileRepliesArePendingLeavesOthersServed) {
  start("echo");
  Fd other = connect_to(server().port());
  ASSERT_TRUE(echoes(other.get(), "before"));
  ConnectOptions small;
  small.rcvbuf = 16 * 1024;
  Fd victim = connect_to(server().port(), small);
  const std::string big = pattern(4 << 20, 9);
  send_until_stalled(victim.get(), big, milliseconds(200), milliseconds(3000));
  reset_connection(victim);
  EXPECT_TRUE(echoes(other.get(), "after"));
  Fd fresh = connect_to(server().port());
  EXPECT_TRUE(echoes(fresh.get(), pattern(100000, 10)));
  EXPECT_TRUE(server().running());
  stop_and_stats();
}

TEST_P(Conformance, HalfCloseStillGetsFullEchoThenEof) {
  start("echo");
  Fd c = connect_to(server().port());
  EXPECT_TRUE(echoes(c.get(), pattern(100 * 1024, 11), /*shut_wr=*/true));
  std::string extra;
  EXPECT_EQ(wait_peer_end(c.get(), milliseconds(3000), &extra), PeerEnd::kClosed);
  EXPECT_TRUE(extra.empty());
}

TEST_P(Conformance, FramedHalfCloseStillGetsFrameThenEof) {
  start("framed");
  Fd c = connect_to(server().port());
  EXPECT_TRUE(echoes(c.get(), frame(pattern(5000, 12)) + frame(pattern(70000, 13)), /*shut_wr=*/true));
  EXPECT_EQ(wait_peer_end(c.get(), milliseconds(3000)), PeerEnd::kClosed);
}

// A reader that does not read must not make the server buffer what it sends:
// back-pressure stops the server reading, so the bytes wait in the kernel's
// socket buffers and the sender is blocked, instead of growing the server.
TEST_P(Conformance, SlowReaderGetsBackPressure) {
  constexpr size_t kTotal = 8 << 20;
  // "Well under 8 MiB". Under TSan (GCC 12's runtime) each 8 bytes the server
  // touches are shadowed by 32 more, so its growth shows about 5x: the bound
  // scales alike (a server that buffered the 8 MiB would show ~40 MiB there).
  // Under ASan the shadow (1 byte per 8 touched) and the allocator's redzones
  // come on top: io_uring_multishot, whose 2 MiB buffer ring is filled at
  // once, showed 4228-4292 KiB in 1 run of 4 there; 6 MiB still fails a
  // server that buffered the 8 MiB (8 MiB plus its shadow).
  constexpr long kAllowedGrowthKb = kTsanBuild ? 5 * 4 * 1024 : kAsanBuild ? 6 * 1024 : 4 * 1024;
  // Under ASan the server runs without the quarantine: with it every freed
  // buffer stays resident (+9 MiB for bytes that merely went through).
  StartOptions opt;
  opt.env = asan_options_env("quarantine_size_mb=0:thread_local_quarantine_size_kb=0");
  start("echo", {}, opt);
  long baseline = server().peak_rss_kb();
  ASSERT_GT(baseline, 0) << "cannot read /proc/PID/status";
  ConnectOptions small;  // small client buffers, so the kernel absorbs less of it
  small.rcvbuf = 64 * 1024;
  small.sndbuf = 64 * 1024;
  Fd c = connect_to(server().port(), small);
  const std::string data = pattern(kTotal, 14);
  size_t sent = send_until_stalled(c.get(), data, milliseconds(300), milliseconds(5000));
  long stalled_peak = server().peak_rss_kb();
  EXPECT_LT(stalled_peak - baseline, kAllowedGrowthKb)
      << "the server grew by " << (stalled_peak - baseline) << " KiB while " << sent
      << " bytes went unread";
  // Now read it all back, sending the rest at the same time.
  ExchangeResult r = exchange(c.get(), std::string_view(data).substr(sent), kTotal, kIo);
  EXPECT_EQ(r.received.size(), kTotal);
  EXPECT_EQ(first_mismatch(r.received, data), std::string::npos);
  nlohmann::json stats = stop_and_stats();
  // The peak over the whole exchange, in release and TSan builds only: ASan's
  // allocator keeps about as much resident as passed through (8.6-9 MiB here,
  // alike for all 15 models, quarantine off), so there it measures ASan.
  if (kAsanBuild) return;
  long max_rss = stats.at("rusage").value("max_rss_kb", 0L);
  EXPECT_LT(max_rss - baseline, kAllowedGrowthKb) << "max RSS " << max_rss << " KiB, baseline " << baseline;
}

}  // namespace
}  // namespace iomodels::test
