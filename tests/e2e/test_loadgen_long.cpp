// The loadgen over long runs: its memory must not be sized
// by the length of its window. It keeps a latency histogram per second for its
// time series; each was a full 220 KB histogram allocated up front, so an
// hour-long window held ~800 MB per thread from its first second. Now each
// second is folded into a compact histogram when it ends (CompactHistogram).
// The one-hour figures themselves come from lab/soak_and_interrupt.sh loadgen.
#include <gtest/gtest.h>

#include <fstream>

#include "test_faults_util.h"

namespace iomodels::test::harness {
namespace {

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

TEST(LoadgenLongRun, AnHourLongWindowDoesNotAllocateItsSecondsUpFront) {
  if (kLoadgen.empty() || !file_exists(kLoadgen) || !file_exists(kBin + "/epoll_lt"))
    GTEST_SKIP() << "loadgen or epoll_lt not built";
  const std::string dir = make_temp_dir();
  const std::string marker = "IOMODELS_TEST_MARKER=long" + std::to_string(::getpid());
  pid_t srv = spawn_marked(kBin + "/epoll_lt --port 0", marker, dir + "/srv.out");
  ASSERT_GT(srv, 0);
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::string out = read_file(dir + "/srv.out");
    size_t colon = out.rfind(':');
    if (out.rfind("listening ", 0) == 0 && colon != std::string::npos && out.find('\n') != std::string::npos)
      port = out.substr(colon + 1, out.find('\n') - colon - 1);
    else
      ::usleep(50'000);
  }
  ASSERT_FALSE(port.empty()) << read_file(dir + "/srv.out");
  // The same loadgen with a 10 s window beside it: only the window differs, so
  // the difference is what the window's length costs (a sanitizer's own
  // memory, the same in both, cancels).
  auto start = [&](const std::string& duration, const std::string& name) {
    return spawn_marked(kLoadgen + " --target 127.0.0.1:" + port + " --connections 2 --rate 100 --duration " +
                            duration + " --threads 2 --progress off --output " + dir + "/" + name + ".json",
                        marker, dir + "/" + name + ".log");
  };
  pid_t hour = start("3600s", "hour"), brief = start("10s", "brief");
  ASSERT_GT(hour, 0);
  ASSERT_GT(brief, 0);
  // A second into their windows (the old layout had allocated every second by then).
  long rss_hour = -1, rss_brief = -1;
  for (int i = 0; i < 40; ++i) {
    ::usleep(50'000);
    rss_hour = std::max(rss_hour, rss_kb(hour));
    rss_brief = std::max(rss_brief, rss_kb(brief));
  }
  ::kill(hour, SIGINT);  // ends the run early, results written
  ::kill(brief, SIGINT);
  const int st = wait_exit_within(hour, 20'000);
  wait_exit_within(brief, 20'000);
  ::kill(srv, SIGTERM);
  wait_exit_within(srv, 5'000);
  EXPECT_GT(rss_hour, 0);
  EXPECT_GT(rss_brief, 0);
  EXPECT_LT(rss_hour - rss_brief, 32 * 1024)
      << "kB more RSS for a one-hour window than for a 10 s one, 2 threads (" << rss_hour << " vs " << rss_brief
      << "; a full histogram per second: ~1.6 GB more)";
  EXPECT_TRUE(st != -1 && WIFEXITED(st)) << describe_status(st) << read_file(dir + "/hour.log");
  EXPECT_TRUE(wait_marked_gone(marker, 3000).empty());
  if (!::testing::Test::HasFailure()) run_cmd("rm -rf " + dir);
}

}  // namespace
}  // namespace iomodels::test::harness
