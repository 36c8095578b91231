// The harness's judgement end to end: a server that stops answering one
// connection is degraded (kept, with the reason), not ok; an open loop above
// the server's capacity is flagged saturated and runs with the loadgen's
// open-loop shape (no --pipeline unless the suite sets one); every repetition
// carries its window, server CPU in ns, host calibration and cost per message.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "harness/run/results.h"
#include "loadgen/result.h"
#include "test_harness_util.h"

namespace iomodels::test::harness {
namespace {

namespace metric = iomodels::harness::metric;

#if defined(IOMODELS_harness_PATH) && defined(IOMODELS_loadgen_PATH) && defined(IOMODELS_fixture_hang_one_PATH)
const std::string kHangOne = IOMODELS_fixture_hang_one_PATH;

class HarnessStatus : public TempDirTest {
 protected:
  nlohmann::json run_suite(const std::string& suite_json, const std::string& bin, int limit_s = 90) {
    write_file(dir_ + "/suite.json", suite_json);
    CmdResult r = run_cmd(kHarness + " run --suite " + dir_ + "/suite.json --out " + dir_ + "/out --bin-dir " + bin +
                          " --progress off", limit_s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(validate_run_json(dir_ + "/out/run.json"), "");
    return nlohmann::json::parse(read_file(dir_ + "/out/run.json"));
  }
};

TEST_F(HarnessStatus, ServerThatStopsAnsweringOneConnectionIsDegraded) {
  // The fixture poses as epoll_lt in a bin folder of its own.
  const std::string bin = dir_ + "/bin";
  ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(kLoadgen.c_str(), (bin + "/loadgen").c_str()), 0);
  ASSERT_EQ(::symlink(kHangOne.c_str(), (bin + "/epoll_lt").c_str()), 0);
  nlohmann::json run = run_suite(R"({"name": "hang", "repetitions": 1, "servers": ["epoll_lt"],
      "defaults": {"duration": 1.5, "warmup": 0.2, "timeout": 0.4},
      "groups": [{"name": "echo", "connections": 4}]})", bin);
  ASSERT_EQ(run["cases"].size(), 1u);
  const auto& c = run["cases"][0];
  EXPECT_EQ(c["status"], "degraded") << c.dump();
  EXPECT_NE(c["reason"].get<std::string>().find("timeout"), std::string::npos) << c["reason"];
  ASSERT_EQ(c["repetitions"].size(), 1u);
  EXPECT_EQ(c["repetitions"][0]["status"], "degraded");
  EXPECT_GT(c["aggregate"][metric::kRequestsPerS]["median"].get<double>(), 0);  // kept and shown

  // compare keeps a degraded case out of the gate and says why.
  CmdResult cmp = run_cmd(kHarness + " compare " + dir_ + "/out " + dir_ + "/out");
  EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
  EXPECT_NE(cmp.output.find("CURRENT degraded"), std::string::npos) << cmp.output;
  CmdResult table = run_cmd("/usr/bin/python3 " IOMODELS_SOURCE_DIR "/plots/table.py " + dir_ + "/out");
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("degraded*"), std::string::npos) << table.output;
}

TEST_F(HarnessStatus, OpenLoopAboveCapacityIsSaturatedWithTheLoadgensShape) {
  if (!file_exists(kBin + "/epoll_lt")) GTEST_SKIP() << "epoll_lt not built";
  // Eight million requests/s is about three times what the fastest model
  // delivers here with the loadgen's open-loop pipelining (epoll_lt: 2.2-2.9 M
  // req/s measured at 5 and 8 M offered). Two million, as this test had, is now
  // within epoll_lt's reach after its hot path was trimmed (achieved 1,998,774
  // of 2 M; the flag then rested on late sends alone and came out false in 2 of
  // 3 clean-clone runs).
  nlohmann::json run = run_suite(R"({"name": "sat", "repetitions": 1, "servers": ["epoll_lt"],
      "defaults": {"duration": 1, "warmup": 0.2, "timeout": 2},
      "groups": [{"name": "open", "connections": 4, "rate": 8000000}]})", kBin);
  const auto& c = run["cases"][0];
  ASSERT_FALSE(c["repetitions"].empty()) << c.dump();
  const auto& rep = c["repetitions"][0];
  EXPECT_TRUE(rep["flags"]["saturated"].get<bool>()) << rep["flags"].dump();
  EXPECT_TRUE(c["flags"]["saturated"].get<bool>());
  // No --pipeline from the harness: the loadgen's open-loop default, not 1.
  EXPECT_GT(rep["loadgen"]["config"]["pipeline"].get<int>(), 1) << rep["loadgen"]["config"].dump();
}

TEST_F(HarnessStatus, EveryRepetitionCarriesWindowCpuCalibrationAndCost) {
  if (!file_exists(kBin + "/epoll_lt")) GTEST_SKIP() << "epoll_lt not built";
  if (!file_exists(kBin + "/poll")) GTEST_SKIP() << "poll not built";
  nlohmann::json run = run_suite(R"({"name": "rec", "repetitions": 2, "servers": ["epoll_lt", "poll"],
      "defaults": {"duration": 0.6, "warmup": 0.2, "timeout": 2},
      "groups": [{"name": "echo", "connections": 2}]})", kBin);
  EXPECT_EQ(run["schema"], "iomodels.run/2");
  const auto& c = run["cases"][0];
  ASSERT_EQ(c["repetitions"].size(), 2u) << c.dump();
  for (int i = 0; i < 2; ++i) {
    const auto& rep = c["repetitions"][i];
    EXPECT_EQ(rep["round"], i);
    EXPECT_GT(rep["server_cpu"]["cpu_ns"].get<long long>(), 0);
    EXPECT_TRUE(rep["window"]["snapshots"].get<bool>()) << rep["window"].dump();
    EXPECT_EQ(rep["window"]["source"], "loadgen");
    EXPECT_TRUE(rep["flags"].contains("window_late")) << rep["flags"].dump();
    // The server's counters over the window: messages, but no accept (the
    // loadgen connected before its window opened).
    const auto& w = rep["server_stats_window"]["counters"];
    EXPECT_GT(w["messages"].get<long long>(), 0);
    EXPECT_GE(rep["server_stats"]["counters"]["messages"].get<long long>(), w["messages"].get<long long>());
    EXPECT_GT(rep["cost_per_message"]["syscalls"]["recv"].get<double>(), 0);
    EXPECT_EQ(rep["calibration"].size(), run["context"]["server_cpus"] == run["context"]["loadgen_cpus"] ? 1u : 2u);
  }
  // poll's paired ratio is recomputed here from the raw figures, round by
  // round (it replaces a check of epoll_lt against itself, which is 1 by
  // construction whatever the pairing does).
  ASSERT_EQ(run["cases"].size(), 2u);
  const auto& p = run["cases"][1];
  ASSERT_EQ(p["server"], "poll");
  std::map<int, double> ref;
  for (const auto& rep : c["repetitions"]) ref[rep["round"].get<int>()] = loadgen::stored_figures(rep["loadgen"]).requests_per_s;
  std::vector<double> ratios;
  for (const auto& rep : p["repetitions"])
    if (ref.count(rep["round"].get<int>()))
      ratios.push_back(loadgen::stored_figures(rep["loadgen"]).requests_per_s / ref[rep["round"].get<int>()]);
  ASSERT_EQ(ratios.size(), 2u);
  const auto& pr = p["aggregate"]["paired_ratio"][metric::kRequestsPerS];
  EXPECT_EQ(pr["n"], 2);
  EXPECT_NEAR(pr["median"].get<double>(), (ratios[0] + ratios[1]) / 2, 1e-9 * pr["median"].get<double>()) << pr.dump();
  EXPECT_NEAR(pr["min"].get<double>(), std::min(ratios[0], ratios[1]), 1e-9) << pr.dump();
}
#endif

}  // namespace
}  // namespace iomodels::test::harness
