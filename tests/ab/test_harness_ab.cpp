// The regression gate's own error rates, end to end with real servers:
//  - A/A: the same build against itself flags nothing;
//  - a real difference is flagged: epoll_lt as "base" against blocking_threads
//    as "head" at 16 connections (a thread per connection costs far more CPU
//    per message than one epoll loop), nothing faked;
//  - a base that predates the gate is "no comparable base", exit 0.
// Short windows and 8-10 rounds keep each run near 10 s on a loaded CI machine.
// RUN_SERIAL (tests/CMakeLists.txt): two of these side by side have the same
// A B / B A rhythm, so one's heavy head runs would land on the other's head
// runs and bias its pairs; nothing else runs beside them either.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include <nlohmann/json.hpp>

#include "tests/e2e/test_harness_util.h"

namespace iomodels::test::harness {
namespace {

class HarnessAb : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kHarness.empty() || !file_exists(kHarness)) GTEST_SKIP() << "harness not built";
    dir_ = make_temp_dir();
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) run_cmd("rm -rf " + dir_);
  }
  void write_suite(int connections, int rounds) {
    write_file(dir_ + "/suite.json", R"({"name": "ab_selftest", "repetitions": )" + std::to_string(rounds) +
                                         R"(, "servers": ["epoll_lt"],
        "defaults": {"protocol": "echo", "size": 64, "duration": 0.3, "warmup": 0.1, "timeout": 2},
        "groups": [{"name": "echo", "connections": )" + std::to_string(connections) + "}]}");
  }
  CmdResult ab(const std::string& base_bin, const std::string& head_bin) {
    return run_cmd(kHarness + " ab --suite " + dir_ + "/suite.json --base-bin " + base_bin + " --head-bin " +
                       head_bin + " --out " + dir_ + "/out --no-trailers --progress off --deterministic off",
                   120);
  }
  nlohmann::json verdict() { return nlohmann::json::parse(read_file(dir_ + "/out/ab.json")); }
  std::string dir_;
};

TEST_F(HarnessAb, SameBuildAgainstItselfFlagsNothing) {
  // Ten rounds: a gate that needs nearly every pair past the threshold rarely
  // gets that from noise alone, even on a CI machine running other tests.
  write_suite(4, 10);
  CmdResult r = ab(kBin, kBin);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto v = verdict();
  EXPECT_EQ(v["comparable"], true);
  EXPECT_EQ(v["summary"]["regressions"], 0) << r.output;
  ASSERT_EQ(v["cases"].size(), 1u);
  const auto& c = v["cases"][0];
  EXPECT_NE(c["verdict"], "regression") << r.output;
  // A starved CI machine may lose a round (dropped, said so) but the pipeline
  // must have paired rounds from both sides' own run.json.
  EXPECT_GE(c["pairs"].get<int>(), 1) << r.output;
  // A B in even rounds, B A in odd ones, as the records show it ran: a gate
  // that ran every base round first would bias every pair the same way.
  auto finished = [&](const char* side) {
    std::map<int, long long> at;
    auto run = nlohmann::json::parse(read_file(dir_ + "/out/" + side + "/run.json"));
    for (const auto& rep : run["cases"][0]["repetitions"]) at[rep["round"].get<int>()] = rep["ab_finished_ns"];
    return at;
  };
  auto base_at = finished("base"), head_at = finished("head");
  int checked = 0;
  for (const auto& [round, t] : base_at) {
    if (!head_at.count(round)) continue;
    EXPECT_EQ(t < head_at[round], round % 2 == 0) << "round " << round;
    ++checked;
  }
  EXPECT_GE(checked, 5) << r.output;
  for (const char* side : {"base", "head"}) {
    auto run = nlohmann::json::parse(read_file(dir_ + "/out/" + side + "/run.json"));
    const auto& cs = run["cases"][0];
    // Every round is there: kept (ok or degraded) or listed as a failure (a
    // degraded round is both).
    EXPECT_LE(cs["repetitions"].size(), 10u) << side;
    EXPECT_GE(cs["repetitions"].size() + cs.value("failures", nlohmann::json::array()).size(), 10u) << side;
  }
}

TEST_F(HarnessAb, BlockingThreadsAgainstEpollIsFlagged) {
  write_suite(16, 10);
  // "head" is a build folder whose epoll_lt is really blocking_threads: the
  // same case name, a real server that costs more per message.
  const std::string head = dir_ + "/head";
  ASSERT_EQ(::mkdir(head.c_str(), 0755), 0);
  ASSERT_EQ(::symlink((kBin + "/loadgen").c_str(), (head + "/loadgen").c_str()), 0);
  ASSERT_EQ(::symlink((kBin + "/servers.json").c_str(), (head + "/servers.json").c_str()), 0);
  ASSERT_EQ(::symlink((kBin + "/blocking_threads").c_str(), (head + "/epoll_lt").c_str()), 0);
  CmdResult r = ab(kBin, head);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  auto v = verdict();
  EXPECT_EQ(v["summary"]["regressions"], 1);
  const auto& c = v["cases"][0];
  EXPECT_EQ(c["verdict"], "regression") << r.output;
  const auto& cpu = c["metrics"]["cpu_ns_per_request"];
  EXPECT_TRUE(cpu["regression"].get<bool>()) << r.output;
  EXPECT_GT(cpu["lo"].get<double>(), 1.05) << "the whole interval lies past the threshold";
  EXPECT_NE(r.output.find("regression"), std::string::npos);
  // The page beside ab.json: the regression leads it.
  std::string page = read_file(dir_ + "/out/ab.html");
  EXPECT_NE(page.find("1 regression"), std::string::npos) << r.output;
  EXPECT_NE(page.find("epoll_lt/echo/c16/s64"), std::string::npos) << r.output;
}

TEST_F(HarnessAb, BaseThatPredatesTheGateIsNoComparableBase) {
  write_suite(4, 8);
  // Not a commit at all (a shallow clone's missing parent looks the same).
  CmdResult r = run_cmd(kHarness + " ab --suite " + dir_ + "/suite.json --base no-such-revision-here --source " +
                        kSrc + " --out " + dir_ + "/out --progress off");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no comparable base"), std::string::npos) << r.output;
  EXPECT_EQ(verdict()["comparable"], false);
  EXPECT_NE(read_file(dir_ + "/out/ab.html").find("No comparable base"), std::string::npos) << r.output;
  // The repository's first commit: long before harness ab existed.
  CmdResult root = run_cmd("git -C " + kSrc + " rev-list --max-parents=0 HEAD");
  if (root.exit_code != 0 || root.output.size() < 40) GTEST_SKIP() << "source is not a git clone with history";
  r = run_cmd(kHarness + " ab --suite " + dir_ + "/suite.json --base " + root.output.substr(0, 40) + " --source " +
              kSrc + " --work-dir " + dir_ + "/work --out " + dir_ + "/out2 --progress off");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("predates"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace iomodels::test::harness
