// A server that drops about one connection in a hundred at a random moment,
// cutting a reply short (the fixture's --drop-one-in):
// the loadgen counts each as an error with its request lost, and never
// verifies a truncated reply as good or as a mismatch.
#include <gtest/gtest.h>

#include <cstdio>

#include "test_loadgen_util.h"
#include "tests/support/test_support.h"

namespace iomodels::test {
namespace {

TEST(LoadgenFaults, ServerDroppingOneConnectionInAHundredIsCountedNeverMisverified) {
#ifndef IOMODELS_fixture_hang_one_PATH
  GTEST_SKIP() << "fixture_hang_one not built";
#else
  auto server = ServerProcess::start(IOMODELS_fixture_hang_one_PATH,
                                     {"--port", "0", "--deaf-connection", "0", "--drop-one-in", "100"});
  // Churn (5 replies per connection) so that some 2,000 connections are made:
  // about 20 are dropped. A fixed request count, so the load is the same on a
  // busy machine, only slower; RST closes keep TIME_WAIT out of the way.
  constexpr uint64_t kRequests = 10000;
  LoadgenRun r = run_loadgen("--target " + server.address() + " -c 8 -n " + std::to_string(kRequests) +
                                 " --requests-per-connection 5 --close-mode rst --timeout 10s --progress off",
                             120);
  ASSERT_FALSE(r.result.is_null()) << r.exit_code << " " << r.stderr_text;
  ExitStatus st = server.stop(SIGTERM, milliseconds(5000));
  EXPECT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  nlohmann::json stats = server.read_stats();
  const auto& counters = stats.at("counters");
  uint64_t drops = counters.contains("extra") ? counters["extra"].value("fault_drops", uint64_t(0)) : 0;
  const auto& s = r.result.at("summary");
  const auto& errors = s.at("errors");
  uint64_t closed = errors.value("closed", uint64_t(0)) + errors.value("reset", uint64_t(0));
  std::printf("[ figures  ] %llu connections accepted, %llu dropped by the server; loadgen: %llu errors "
              "(closed+reset), lost %s, mismatches %llu, requests %llu\n",
              (unsigned long long)counters.value("accepted", uint64_t(0)), (unsigned long long)drops,
              (unsigned long long)closed, s.at("lost").dump().c_str(),
              (unsigned long long)errors.value("mismatch", uint64_t(0)),
              (unsigned long long)s.value("requests", uint64_t(0)));
  EXPECT_GT(drops, 0u) << counters.dump();
  EXPECT_LT(drops, counters.value("accepted", uint64_t(0)) / 20) << "about one in a hundred";
  // Each drop is seen: an error, and the request it cut short is lost, not answered.
  EXPECT_EQ(closed, drops) << errors.dump();
  EXPECT_GE(s.at("lost").value("total", uint64_t(0)), drops) << s.at("lost").dump();
  EXPECT_EQ(errors.value("mismatch", uint64_t(0)), 0u) << "a truncated reply was verified as wrong";
  // -n counts requests sent: every one is either answered in full or lost.
  EXPECT_EQ(s.value("requests", uint64_t(0)) + s.at("lost").value("total", uint64_t(0)), kRequests);
#endif
}

}  // namespace
}  // namespace iomodels::test
