// The userspace delay line (harness/delayline): its command line, that a
// packet takes at least the delay each way, that its queue is bounded with
// drops counted, and its counters at exit. Runs in two namespaces of its own,
// named like the netns lab's (iomns-<pid>-...) so a killed run's leftovers are
// removed by the next lab; skipped without root or /dev/net/tun.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "harness/process.h"
#include "harness/topology.h"
#include "netns_probe.h"
#include "tests/support/test_support.h"
#include "test_paths.inc"

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

}  // namespace
