// The userspace delay line (harness/delayline): its command line, that a
// packet takes at least the delay each way, that its queue is bounded with
// drops counted, its counters at exit, and netem's loss and jitter: measured
// at a receiver across the line, the loss rate and the delay distribution
// match what was asked. Runs in two namespaces of its own,
// named like the netns lab's (iomns-<pid>-...) so a killed run's leftovers are
// removed by the next lab; skipped without root or /dev/net/tun.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "harness/remote/topology.h"
#include "harness/run/process.h"
#include "netns_probe.h"
#include "test_paths.inc"
#include "tests/support/test_support.h"

using namespace iomodels::harness;
using iomodels::test::refused_connect_ms;

namespace {

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// The first count `key=N` on the line of `lane` (c2s or s2c), -1 if absent.
long counter(const std::string& log, const std::string& lane, const std::string& key) {
  std::smatch m;
  std::regex re(lane + " .*\\b" + key + "=([0-9]+)");
  return std::regex_search(log, m, re) ? std::stol(m[1]) : -1;
}

uint64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

bool enter(const std::string& ns) {
  int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  bool ok = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

// What a receiver across the line saw of `sent` datagrams.
struct Crossing {
  uint64_t sent = 0, received = 0;
  std::vector<double> delay_ms;  // one-way, per datagram received
  double mean() const {
    double s = 0;
    for (double d : delay_ms) s += d;
    return delay_ms.empty() ? 0 : s / double(delay_ms.size());
  }
  double stdev() const {
    double m = mean(), s = 0;
    for (double d : delay_ms) s += (d - m) * (d - m);
    return delay_ms.size() < 2 ? 0 : std::sqrt(s / double(delay_ms.size() - 1));
  }
  double fraction_above(double ms) const {
    return delay_ms.empty() ? 0 : double(std::count_if(delay_ms.begin(), delay_ms.end(), [&](double d) { return d > ms; })) /
                                      double(delay_ms.size());
  }
  double fraction_below(double ms) const { return 1.0 - fraction_above(ms); }
  double min() const { return delay_ms.empty() ? 0 : *std::min_element(delay_ms.begin(), delay_ms.end()); }
  double quantile(double q) const {
    std::vector<double> v = delay_ms;
    if (v.empty()) return 0;
    auto at = v.begin() + std::ptrdiff_t(q * double(v.size() - 1));
    std::nth_element(v.begin(), at, v.end());
    return *at;
  }
};

// UDP datagrams from namespace `from` to `addr`:9000 in namespace `to`, each
// carrying its sequence number and CLOCK_MONOTONIC send time (one clock: the
// same host). Sent in batches of `batch`, each once the previous batch's last
// datagram arrived or 100 ms passed, so nothing on the way (the TUN queue,
// socket buffers) overflows: a datagram that never arrives was lost by the
// delay line. setns() moves only the calling thread, hence the two threads.
Crossing cross(const std::string& from, const std::string& to, const std::string& addr, uint64_t count, int batch,
               int drain_ms) {
  Crossing out;
  std::atomic<bool> bound{false}, failed{false}, stop{false};
  std::atomic<int64_t> highest{-1};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(9000);
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  std::thread receiver([&] {
    int s = -1;
    if (!enter(to) || (s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        ::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      failed = true;
      bound = true;
      return;
    }
    int big = 8 << 20;
    ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    timeval tick{0, 20'000};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    bound = true;
    uint64_t msg[2];
    while (!stop) {
      if (::recv(s, msg, sizeof msg, 0) != ssize_t(sizeof msg)) continue;
      out.delay_ms.push_back(double(mono_ns() - msg[1]) / 1e6);
      ++out.received;
      if (int64_t(msg[0]) > highest) highest = int64_t(msg[0]);
    }
    ::close(s);
  });
  while (!bound) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread sender([&] {
    int s = -1;
    if (failed || !enter(from) || (s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
      failed = true;
      return;
    }
    for (uint64_t seq = 0; seq < count;) {
      for (int k = 0; k < batch && seq < count; ++k, ++seq) {
        uint64_t msg[2] = {seq, mono_ns()};
        if (::sendto(s, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == ssize_t(sizeof msg))
          ++out.sent;
      }
      auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
      while (highest < int64_t(seq) - 1 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ::close(s);
  });
  sender.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(drain_ms));  // the last ones in flight
  stop = true;
  receiver.join();
  EXPECT_FALSE(failed) << "could not set up the UDP probe in the namespaces";
  return out;
}

class DelayLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!netns_supported(&why)) GTEST_SKIP() << why;
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun (CONFIG_TUN)";
    base_ = std::string(NetnsLab::kPrefix) + std::to_string(::getpid()) + "-dl";
    for (const char* side : {"-a", "-b"}) {
      ASSERT_EQ(sh("ip netns add " + base_ + side + " && ip -n " + base_ + side + " link set lo up"), 0);
      made_ += 1;
    }
    log_ = "/tmp/" + base_ + ".log";
  }
  void TearDown() override {
    stop();
    if (made_ > 0) sh("ip netns del " + base_ + "-a 2>/dev/null; ip netns del " + base_ + "-b 2>/dev/null");
    std::remove(log_.c_str());
  }

  void start(const std::string& delay, const std::string& extra = "") {
    SpawnOptions o;
    o.argv = {IOMODELS_delayline_PATH, "--delay", delay, "--server-ns", base_ + "-b", "--server-addr",
              "198.18.0.1", "--client", base_ + "-a=198.18.1.1"};
    std::istringstream words(extra);
    for (std::string w; words >> w;) o.argv.push_back(w);
    o.capture_stdout = true;
    o.stderr_path = log_;
    line_ = std::make_unique<Child>(o);
    auto ready = line_->read_line(10'000);
    ASSERT_TRUE(ready && *ready == "ready") << "the delay line did not start: " << read_log();
  }
  // SIGTERM, as the lab does; returns its log with the counters.
  std::string stop() {
    if (!line_) return "";
    line_->signal(SIGTERM);
    EXPECT_TRUE(line_->wait_exit(5000));
    EXPECT_EQ(line_->describe_exit(), "exited with status 0");
    line_.reset();
    return read_log();
  }
  std::string read_log() {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string base_, log_;
  int made_ = 0;
  std::unique_ptr<Child> line_;
};

TEST(DelayLine, HelpAndBadValuesExitTwoNamingTheOption) {
  auto run = [](const std::string& args) {
    auto r = iomodels::test::run_command(std::string(IOMODELS_delayline_PATH) + " " + args + " 2>&1");
    return std::make_pair(r.exit_code, r.output);
  };
  auto [rc, out] = run("--help");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("--delay"), std::string::npos) << out;
  const std::string ok = "--server-ns s --server-addr 198.18.0.1 --client c=198.18.1.1";
  for (auto [args, option] : {std::pair<std::string, std::string>{"--delay 5parsecs " + ok, "--delay"},
                              {"--delay -1ms " + ok, "--delay"},
                              {"--delay 5ms --queue 0 " + ok, "--queue"},
                              {"--delay 5ms --server-ns s --server-addr nowhere --client c=198.18.1.1", "--server-addr"},
                              {"--delay 5ms --server-ns s --server-addr 198.18.0.1 --client c", "--client"},
                              {"--delay 5ms --server-addr 198.18.0.1 --client c=198.18.1.1", "--server-ns"},
                              {"--bogus 1 " + ok, "--bogus"}}) {
    auto [code, text] = run(args);
    EXPECT_EQ(code, 2) << args << ": " << text;
    EXPECT_NE(text.find(option), std::string::npos) << args << ": " << text;
  }
}

TEST_F(DelayLineTest, APacketTakesAtLeastTheDelayEachWay) {
  start("30ms");
  // Client -> server and back: two crossings, so at least 60 ms; the upper
  // bound only catches a packet held far too long (the machine is shared).
  for (int i = 0; i < 3; ++i) {
    double ms = refused_connect_ms(base_ + "-a", "198.18.0.1");
    EXPECT_GE(ms, 60.0) << "round " << i;
    EXPECT_LE(ms, 60.0 + 3000) << "round " << i;
  }
  // And from the server side towards the client.
  double back = refused_connect_ms(base_ + "-b", "198.18.1.1");
  EXPECT_GE(back, 60.0);
  EXPECT_LE(back, 60.0 + 3000);
  std::string log = stop();
  EXPECT_GE(counter(log, "c2s", "packets"), 4) << log;  // 3 SYNs and an RST at least
  EXPECT_GE(counter(log, "s2c", "packets"), 4) << log;
  EXPECT_EQ(counter(log, "c2s", "drops"), 0) << log;
  EXPECT_GT(counter(log, "c2s", "bytes"), 4 * 40) << log;  // an IPv4+TCP header is >= 40 bytes
}

TEST_F(DelayLineTest, ZeroDelayStillForwards) {
  start("0ms");
  double ms = refused_connect_ms(base_ + "-a", "198.18.0.1");
  EXPECT_GE(ms, 0.0) << "no RST came back through the delay line";
  EXPECT_LE(ms, 3000.0);
}

TEST_F(DelayLineTest, AFullQueueDropsAndCountsThem) {
  start("200ms", "--queue 2");
  // 20 datagrams at once from the client namespace: the queue holds 2 for
  // 200 ms, the rest are dropped and counted.
  ASSERT_EQ(sh("ip netns exec " + base_ + "-a bash -c 'for i in $(seq 20); do echo x > /dev/udp/198.18.0.1/9; done'"), 0);
  ::usleep(300'000);
  std::string log = stop();
  EXPECT_EQ(counter(log, "c2s", "max_queue"), 2) << log;
  EXPECT_GE(counter(log, "c2s", "drops"), 10) << log;
  EXPECT_LE(counter(log, "c2s", "packets") + counter(log, "c2s", "drops"), 20 + 4) << log;
}

// netem's `loss random 1%`: 100,000 datagrams, each lost on its own with
// probability 1%; the receiver counts what arrived. Expected 1,000 lost
// (binomial deviation 31), accepted within ±20%; the delay line's own count
// agrees with the receiver's.
TEST_F(DelayLineTest, LossRateMatchesTheRequestOver100kPackets) {
  start("0ms", "--loss 1% --seed 7");
  Crossing c = cross(base_ + "-a", base_ + "-b", "198.18.0.1", 100'000, 100, 200);
  std::string log = stop();
  ASSERT_EQ(c.sent, 100'000u);
  double lost_pct = 100.0 * double(c.sent - c.received) / double(c.sent);
  std::printf("[ measured ] loss requested 1%%: %.3f%% of %llu datagrams lost (%llu)\n", lost_pct,
              (unsigned long long)c.sent, (unsigned long long)(c.sent - c.received));
  EXPECT_GE(lost_pct, 0.8) << log;
  EXPECT_LE(lost_pct, 1.2) << log;
  // Its counter may also hold a stray packet the kernel sent on the TUN.
  EXPECT_NEAR(double(counter(log, "c2s", "lost")), double(c.sent - c.received), 5) << log;
  EXPECT_EQ(counter(log, "c2s", "drops"), 0) << log;
}

// netem's `delay 5ms 2ms` (uniform, its default) and `... distribution
// normal`: the one-way delays a receiver measures have the shape asked for.
// A busy machine only ever adds delay (the line's and the receiver's
// wakeups come late, never early), so every check is one-sided in that
// direction or catches only a gross error: nothing leaves before D-J under
// uniform; a quarter of uniform's draws fall below D-J/2, 16% of normal's
// below D-J (which uniform never reaches); the mean cannot be below D.
// Binomial noise at 3,000 datagrams is under 1 point.
TEST_F(DelayLineTest, JitterFollowsTheNamedDistribution) {
  start("5ms", "--jitter 2ms --seed 3");
  Crossing u = cross(base_ + "-a", base_ + "-b", "198.18.0.1", 3000, 20, 100);
  stop();
  start("5ms", "--jitter 2ms --distribution normal --seed 3");
  Crossing n = cross(base_ + "-a", base_ + "-b", "198.18.0.1", 3000, 20, 100);
  stop();
  for (auto [name, c] : {std::pair<const char*, const Crossing&>{"uniform", u}, {"normal", n}})
    std::printf("[ measured ] delay 5ms jitter 2ms %s: mean %.3f ms, stdev %.3f ms, min %.3f ms, p10 %.3f, "
                "p50 %.3f, p90 %.3f ms; below 3 ms %.1f%%, below 4 ms %.1f%% (%zu datagrams)\n", name, c.mean(),
                c.stdev(), c.min(), c.quantile(0.1), c.quantile(0.5), c.quantile(0.9), 100 * c.fraction_below(3.0),
                100 * c.fraction_below(4.0), c.delay_ms.size());
  ASSERT_GE(u.delay_ms.size(), 2900u);
  ASSERT_GE(n.delay_ms.size(), 2900u);
  // Uniform on [3, 7] ms: nothing below 3, 25% below 4, mean 5.
  EXPECT_GE(u.min(), 3.0);
  EXPECT_LE(u.fraction_below(4.0), 0.30);
  EXPECT_GE(u.fraction_below(4.0), 0.10) << "no jitter applied";
  EXPECT_GE(u.mean(), 4.9);
  EXPECT_LE(u.mean(), 8.0);
  // Normal (5, 2): 15.9% below 3 ms, where uniform has none.
  EXPECT_LE(n.fraction_below(3.0), 0.20);
  EXPECT_GE(n.fraction_below(3.0), 0.08) << "not a normal spread";
  EXPECT_GE(n.mean(), 4.85);
  EXPECT_LE(n.mean(), 8.0);
}

TEST(DelayLine, BadImpairmentsExitTwoNamingTheOption) {
  const std::string ok = " --server-ns s --server-addr 198.18.0.1 --client c=198.18.1.1";
  for (auto [args, option] : {std::pair<std::string, std::string>{"--delay 5ms --loss 1" + ok, "--loss"},
                              {"--delay 5ms --loss 101%" + ok, "--loss"},
                              {"--delay 5ms --jitter soon" + ok, "--jitter"},
                              {"--delay 5ms --jitter 1ms --distribution pareto" + ok, "--distribution"},
                              {"--delay 5ms --seed -3" + ok, "--seed"}}) {
    auto r = iomodels::test::run_command(std::string(IOMODELS_delayline_PATH) + " " + args + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find(option), std::string::npos) << args << ": " << r.output;
  }
}

}  // namespace
