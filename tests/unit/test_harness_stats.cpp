// The harness's arithmetic, on inputs whose answers are known: Mann-Whitney
// against reference values, medians, ratios paired by round, the order-
// statistic interval, and the aggregation of repetitions (failed ones left
// out, costs per message as medians).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/gate/compare.h"
#include "harness/run/paired.h"
#include "harness/run/results.h"
#include "harness/stats/stats.h"
#include "loadgen_figures.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

// Exact cases: with m = n and no ties, U = 0 is one arrangement of C(m+n, m),
// so the two-sided p is 2 / C(m+n, m).
TEST(MannWhitney, ExactSeparatedSamplesMatchTheCombinatorialP) {
  stats::MannWhitney t = stats::mann_whitney({1, 2, 3}, {4, 5, 6});
  EXPECT_TRUE(t.exact);
  EXPECT_DOUBLE_EQ(t.u, 0);
  EXPECT_NEAR(t.p, 2.0 / 20, 1e-12);      // C(6,3) = 20
  EXPECT_NEAR(t.min_p, 2.0 / 20, 1e-12);
  stats::MannWhitney t5 = stats::mann_whitney({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(t5.u, 25);
  EXPECT_NEAR(t5.p, 2.0 / 252, 1e-12);    // C(10,5) = 252
}

// Interleaved 3 vs 3: ranks of a = 1,3,5, U = 9 - 6 = 3. The null counts of
// U = 0..9 for m = n = 3 are 1,1,2,3,3,3,3,2,1,1 (of 20): P(U <= 3) = 7/20,
// P(U >= 3) = 16/20, two-sided p = 2 * 7/20 = 0.7.
TEST(MannWhitney, ExactInterleavedSamples) {
  stats::MannWhitney t = stats::mann_whitney({1, 3, 5}, {2, 4, 6});
  EXPECT_DOUBLE_EQ(t.u, 3);
  EXPECT_NEAR(t.p, 0.7, 1e-12);
}

// Ties use the normal approximation with tie and continuity corrections, the
// formula of scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True):
// a = {1,2,2,3}, b = {2,3,4,5}: mean ranks give R_a = 12.5, U = 2.5, mu = 8,
// var = 16/12 * (9 - 30/56) = 11.2857..., z = (5.5 - 0.5)/sqrt(var) = 1.48835,
// p = erfc(z/sqrt 2) = 0.1366582477 (evaluated with Python's math.erfc).
TEST(MannWhitney, TiesUseTheCorrectedNormalApproximation) {
  stats::MannWhitney t = stats::mann_whitney({1, 2, 2, 3}, {2, 3, 4, 5});
  EXPECT_FALSE(t.exact);
  EXPECT_DOUBLE_EQ(t.u, 2.5);
  EXPECT_NEAR(t.p, 0.13665824773814753, 1e-9);
}

// Above 20 a side the approximation is used even without ties: 1..21 vs
// 22..42, U = 0, mu = 220.5, var = 441/12 * 43, p = 3.1254e-08 (same formula).
TEST(MannWhitney, LargeSamplesUseTheApproximation) {
  std::vector<double> a, b;
  for (int i = 1; i <= 21; ++i) a.push_back(i), b.push_back(i + 21);
  stats::MannWhitney t = stats::mann_whitney(a, b);
  EXPECT_FALSE(t.exact);
  EXPECT_NEAR(t.p / 3.125399998400882e-08, 1.0, 1e-6);
}

TEST(Summarize, MedianOfOddAndEvenCounts) {
  Stats3 odd = summarize({5, 1, 3});
  EXPECT_DOUBLE_EQ(odd.median, 3);
  EXPECT_DOUBLE_EQ(odd.min, 1);
  EXPECT_DOUBLE_EQ(odd.max, 5);
  EXPECT_DOUBLE_EQ(summarize({4, 1, 3, 2}).median, 2.5);
  EXPECT_DOUBLE_EQ(summarize({}).median, 0);
}

// Binomial(n, 1/2) tails: n = 3 gives [min, max] at 1 - 2/8 = 0.75;
// n = 10: P(B <= 1) = 11/1024 <= 2.5% < P(B <= 2) = 56/1024, so k = 2 and the
// interval is [x(2), x(9)] at 1 - 22/1024.
TEST(PairedRatios, OrderStatisticInterval) {
  RatioSummary three = summarize_ratios({1.2, 0.8, 1.0});
  EXPECT_DOUBLE_EQ(three.median, 1.0);
  EXPECT_DOUBLE_EQ(three.lo, 0.8);
  EXPECT_DOUBLE_EQ(three.hi, 1.2);
  EXPECT_DOUBLE_EQ(three.confidence, 0.75);
  RatioSummary ten = summarize_ratios({10, 1, 9, 2, 8, 3, 7, 4, 6, 5});
  EXPECT_DOUBLE_EQ(ten.median, 5.5);
  EXPECT_DOUBLE_EQ(ten.lo, 2);
  EXPECT_DOUBLE_EQ(ten.hi, 9);
  EXPECT_DOUBLE_EQ(ten.confidence, 1 - 22.0 / 1024);
  EXPECT_EQ(ten.n, 10u);
}

json rep(int round, double rps, double cpu_us, const std::string& status = "ok") {
  return {{"round", round}, {"repetition", round}, {"status", status},
          {"loadgen", test::loadgen_figures(rps, 10, 100.0 / rps * 1000)},
          {"server_cpu", {{"us_per_request", cpu_us}}}};
}

json a_case(const std::string& server, json reps) {
  return {{"name", server + "/echo/c16/s64"}, {"server", server}, {"repetitions", std::move(reps)},
          {"aggregate", json::object()}};
}

// The issue's own figures: every server slow in round 0 and fast in round 2
// (36k/84k/157k vs 35k/79k/167k). Absolute medians span 4x; the ratios
// paired by round stay near 1. Repetitions arrive out of order, and a failed
// one (round 1 of the reference) must pair nothing.
TEST(PairedRatios, RatiosArePairedByRoundNotByPosition) {
  json cases = json::array({a_case("epoll_lt", {rep(2, 157000, 8), rep(0, 36000, 10), rep(1, 84000, 9)}),
                            a_case("select", {rep(0, 35000, 12), rep(1, 79000, 10), rep(2, 167000, 9)})});
  add_paired_ratios(cases);
  const json& pr = cases[1]["aggregate"]["paired_ratio"];
  ASSERT_TRUE(pr.contains(metric::kRequestsPerS)) << cases[1].dump();
  EXPECT_EQ(pr["reference"], "epoll_lt");
  EXPECT_EQ(pr[metric::kRequestsPerS]["n"], 3);
  EXPECT_NEAR(pr[metric::kRequestsPerS]["median"].get<double>(), 35000.0 / 36000, 1e-12);
  EXPECT_NEAR(pr[metric::kRequestsPerS]["min"].get<double>(), 79000.0 / 84000, 1e-12);
  EXPECT_NEAR(pr[metric::kRequestsPerS]["max"].get<double>(), 167000.0 / 157000, 1e-12);
  EXPECT_NEAR(pr["server_cpu_us_per_request"]["median"].get<double>(), 1.125, 1e-12);  // 1.2, 1.111, 1.125
  EXPECT_NEAR(cases[0]["aggregate"]["paired_ratio"][metric::kRequestsPerS]["median"].get<double>(), 1.0, 1e-12);

  EXPECT_FALSE(cases[1]["flags"]["window_late"].get<bool>());

  cases[0]["repetitions"][2]["status"] = "failed";  // round 1 of the reference
  cases[1]["repetitions"][0]["flags"] = {{"window_late", true}, {"saturated", true}};
  add_paired_ratios(cases);
  EXPECT_EQ(cases[1]["aggregate"]["paired_ratio"][metric::kRequestsPerS]["n"], 2);
  // A case carries a flag when any repetition does.
  EXPECT_TRUE(cases[1]["flags"]["window_late"].get<bool>());
  EXPECT_TRUE(cases[1]["flags"]["saturated"].get<bool>());
  EXPECT_FALSE(cases[0]["flags"]["saturated"].get<bool>());
}

TEST(Aggregate, MediansLeaveFailedRepetitionsOut) {
  json reps = json::array({rep(0, 100, 5), rep(1, 300, 7), rep(2, 200, 6), rep(3, 1e9, 1, "failed"),
                           rep(4, 50, 9, "degraded")});
  json a = aggregate_case(reps);
  EXPECT_EQ(a["repetitions_used"], 4);
  EXPECT_DOUBLE_EQ(a[metric::kRequestsPerS]["median"].get<double>(), 150);  // 50 100 200 300
  EXPECT_DOUBLE_EQ(a[metric::kRequestsPerS]["max"].get<double>(), 300);
  EXPECT_DOUBLE_EQ(a["server_cpu_us_per_request"]["median"].get<double>(), 6.5);
  EXPECT_TRUE(a["cost_per_message"].is_null());
}

// A syscall one repetition never made counts as 0 there; a context-switch
// figure unknown (null) in one repetition is left out of that key's median.
TEST(Aggregate, CostPerMessageMediansPerKey) {
  json reps = json::array();
  auto cost = [](double recv, json epoll_wait, json cs) {
    json c = {{"messages", 1000}, {"syscalls", {{"recv", recv}, {"send", 1.0}}}, {"syscalls_total", recv + 1},
              {"wakeups", 0.5}, {"events", 1.0}, {"context_switches", cs}, {"cpu_us", 8.0}};
    if (!epoll_wait.is_null()) c["syscalls"]["epoll_wait"] = epoll_wait;
    return c;
  };
  for (int i = 0; i < 3; ++i) reps.push_back(rep(i, 100, 5));
  reps[0]["cost_per_message"] = cost(1.0, 0.3, 0.1);
  reps[1]["cost_per_message"] = cost(2.0, nullptr, nullptr);
  reps[2]["cost_per_message"] = cost(1.5, 0.1, 0.3);
  json c = aggregate_case(reps)["cost_per_message"];
  ASSERT_TRUE(c.is_object());
  EXPECT_DOUBLE_EQ(c["syscalls"]["recv"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(c["syscalls"]["epoll_wait"].get<double>(), 0.1);  // 0, 0.1, 0.3
  EXPECT_DOUBLE_EQ(c["context_switches"].get<double>(), 0.2);        // 0.1, 0.3
  EXPECT_DOUBLE_EQ(c["cpu_us"].get<double>(), 8.0);
}

}  // namespace
}  // namespace iomodels::harness
