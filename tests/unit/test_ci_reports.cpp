// The dashboard and CI-summary writers (harness/gate/ci_reports.h) on a verdict
// made by the real judge from hand-built runs: one case 20% slower (a
// regression), one unchanged, one with too few pairs (not gated).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include "harness/gate/ab_judge.h"
#include "harness/gate/ci_reports.h"
#include "harness/run/results.h"
#include "loadgen_figures.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

json make_case(const std::string& name, double cpu_ns, double factor, int rounds) {
  json reps = json::array();
  for (int r = 0; r < rounds; ++r) {
    // ±1% a round, in another phase for a changed side, so head/base varies by round.
    const double wobble = 1 + 0.01 * (((r + (factor != 1.0 ? 1 : 0)) % 3) - 1.0);
    const double cpu = cpu_ns * factor * wobble;
    reps.push_back({{"repetition", r},
                    {"status", "ok"},
                    {"server_cpu", {{"ns_per_request", cpu}, {"us_per_request", cpu / 1000}}},
                    {"loadgen", test::loadgen_figures(1e9 / cpu, 50 * factor * wobble, 100 * factor * wobble)}});
  }
  json c = {{"name", name}, {"server", name.substr(0, name.find('/'))}, {"status", "ok"}, {"reason", ""},
            {"repetitions", reps}};
  c["aggregate"] = aggregate_case(reps);
  return c;
}

struct Fixture {
  json base_run, head_run, ab;
};

Fixture make_fixture() {
  Fixture f;
  // The unchanged case's name carries the characters XML and Markdown must escape.
  const std::string odd = "b<&\"|'>/echo";
  f.base_run = {{"cases", {make_case("a/echo", 5000, 1.0, 10), make_case(odd, 5000, 1.0, 10),
                           make_case("c/echo", 5000, 1.0, 3)}}};
  f.head_run = {{"cases", {make_case("a/echo", 5000, 1.2, 10), make_case(odd, 5000, 1.0, 10),
                           make_case("c/echo", 5000, 1.0, 3)}}};
  json v = judge_ab(f.base_run, f.head_run, {});
  f.ab = {{"schema", "iomodels.ab/1"}, {"comparable", true},
          {"base", {{"spec", "HEAD^"}, {"sha", "1111111aaaa"}, {"label", "HEAD^ (1111111)"}}},
          {"head", {{"spec", "worktree"}, {"sha", "2222222bbbb"}, {"label", "worktree (2222222)"}}},
          {"suite", "regress"}, {"rounds", 10}, {"order", "A B, B A alternating per round"}, {"seconds", 12.0},
          {"cases", v["cases"]}, {"summary", v["summary"]}};
  return f;
}

// Parsed by an XML parser that is not ours: Python's, which rejects bad escapes.
std::string python_check(const std::string& text, const std::string& program) {
  const std::string path = ::testing::TempDir() + "ci_reports_check.txt";
  std::ofstream(path) << text;
  std::string cmd = "/usr/bin/python3 -c '" + program + "' " + path + " 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  return out;
}

TEST(CiReports, JunitHasOneFailingTestPerRegressedMetricAndParses) {
  Fixture f = make_fixture();
  ASSERT_EQ(f.ab["summary"]["regressions"], 1);
  std::string xml = ab_junit_xml(f.ab);
  // Counted by Python's XML parser: tests, failures (the regressed case's
  // verdict, its CPU and its p99), skipped (c/echo's verdict and its two gated metrics).
  std::string out = python_check(
      xml,
      "import sys, xml.etree.ElementTree as E\n"
      "r = E.parse(sys.argv[1]).getroot(); s = r.find(\"testsuite\")\n"
      "tc = s.findall(\"testcase\")\n"
      "fails = sorted(t.get(\"classname\") + \":\" + t.get(\"name\") for t in tc if t.find(\"failure\") is not None)\n"
      "skips = [t for t in tc if t.find(\"skipped\") is not None]\n"
      "print(len(tc), s.get(\"tests\"), s.get(\"failures\"), s.get(\"skipped\"), len(skips), \",\".join(fails))\n"
      "print(\"odd:\", any(t.get(\"classname\") == \"b<&\\\"|\\x27>/echo\" for t in tc))\n");
  EXPECT_EQ(out, "12 12 3 3 3 a/echo:cpu_ns_per_request,a/echo:p99_us,a/echo:verdict\nodd: True\n") << xml;
}

TEST(CiReports, JunitOfAnAcceptedRegressionHasNoFailure) {
  Fixture f = make_fixture();
  JudgeOptions o;
  o.accepted.push_back({"a/*", "known cost"});
  json v = judge_ab(f.base_run, f.head_run, o);
  f.ab["cases"] = v["cases"];
  f.ab["summary"] = v["summary"];
  std::string xml = ab_junit_xml(f.ab);
  EXPECT_NE(xml.find("failures=\"0\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("Perf-accepted: known cost"), std::string::npos) << xml;
}

TEST(CiReports, MarkdownListsEveryVerdictPerCaseAndMetric) {
  Fixture f = make_fixture();
  std::string md = ab_markdown(f.ab);
  EXPECT_NE(md.find("## Regression gate: FAIL (1 regression)"), std::string::npos) << md;
  // One row per case and metric, each with its verdict as the last cell.
  auto row = [&](const std::string& name, const std::string& metric, const std::string& verdict) {
    std::regex re("\\| " + std::regex_replace(name, std::regex(R"([\\|.*+?()\[\]^$])"), R"(\$&)") + " \\| " + metric +
                  " \\|[^\n]*\\| " + verdict + " \\|\n");
    return std::regex_search(md, re);
  };
  EXPECT_TRUE(row("a/echo", "cpu_ns_per_request", "\\*\\*regression\\*\\*")) << md;
  EXPECT_TRUE(row("a/echo", "p99_us", "\\*\\*regression\\*\\*")) << md;
  EXPECT_TRUE(row("a/echo", metric::kRequestsPerS, "info")) << md;
  EXPECT_TRUE(row("b<&\"\\|'>/echo", "cpu_ns_per_request", "ok")) << md;  // the '|' escaped
  EXPECT_TRUE(row("c/echo", "cpu_ns_per_request", "not gated")) << md;
  EXPECT_NE(md.find("| c/echo | (case) | | | | | not gated: 3 usable pairs"), std::string::npos) << md;
  // Every table row has the header's 7 cells (8 unescaped bars).
  std::regex bar(R"((^|[^\\])\|)");
  std::istringstream lines(md);
  for (std::string l; std::getline(lines, l);) {
    if (l.empty() || l[0] != '|') continue;
    EXPECT_EQ(std::distance(std::sregex_iterator(l.begin(), l.end(), bar), std::sregex_iterator()), 8) << l;
  }
}

TEST(CiReports, NoComparableBaseIsSaidAndSkippedNotFailed) {
  json ab = {{"schema", "iomodels.ab/1"}, {"comparable", false}, {"reason", "HEAD^ predates the gate"},
             {"head", {{"spec", "worktree"}, {"sha", "abc1234"}}}};
  EXPECT_NE(ab_markdown(ab).find("not gated"), std::string::npos);
  std::string xml = ab_junit_xml(ab);
  EXPECT_NE(xml.find("failures=\"0\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("skipped=\"1\""), std::string::npos) << xml;
}

TEST(CiReports, BencherMetricFormatCarriesMediansWithTheirSpread) {
  Fixture f = make_fixture();
  json bmf = bencher_bmf(f.head_run);
  const json& a = bmf.at("a/echo");
  const json& agg = f.head_run["cases"][0]["aggregate"];
  EXPECT_DOUBLE_EQ(a.at("server-cpu-ns-per-request").at("value"), agg["server_cpu_ns_per_request"]["median"]);
  EXPECT_DOUBLE_EQ(a.at("server-cpu-ns-per-request").at("lower_value"), agg["server_cpu_ns_per_request"]["min"]);
  EXPECT_DOUBLE_EQ(a.at("server-cpu-ns-per-request").at("upper_value"), agg["server_cpu_ns_per_request"]["max"]);
  EXPECT_DOUBLE_EQ(a.at("latency-p99-us").at("value"), agg["p99_us"]["median"]);
  EXPECT_DOUBLE_EQ(a.at("throughput").at("value"), agg[metric::kRequestsPerS]["median"]);
  // ab adds the ratio with its interval.
  json ab_bmf = bencher_bmf_ab(f.head_run, f.ab);
  const json& r = ab_bmf.at("a/echo").at("ratio-cpu_ns_per_request");
  EXPECT_NEAR(r.at("value").get<double>(), 1.2, 0.02);
  EXPECT_LT(r.at("lower_value").get<double>(), r.at("value").get<double>());
  EXPECT_GT(r.at("upper_value").get<double>(), r.at("value").get<double>());
}

TEST(CiReports, BenchmarkActionGetsOnlySmallerIsBetterFigures) {
  Fixture f = make_fixture();
  json g = benchmark_action_smaller(f.head_run);
  ASSERT_EQ(g.size(), 9u);  // 3 cases x (CPU, p50, p99); never req/s
  for (const auto& e : g) {
    EXPECT_TRUE(e.at("name").is_string());
    EXPECT_TRUE(e.at("value").is_number());
    EXPECT_TRUE(e.at("unit") == "ns" || e.at("unit") == "us") << e;
  }
  EXPECT_EQ(g[0]["name"], "a/echo server CPU per request");
  EXPECT_DOUBLE_EQ(g[0]["value"], f.head_run["cases"][0]["aggregate"]["server_cpu_ns_per_request"]["median"]);
  json gab = benchmark_action_smaller_ab(f.head_run, f.ab);
  int ratios = 0;
  for (const auto& e : gab) ratios += e["unit"] == "ratio";
  EXPECT_EQ(ratios, 4);  // the two gated metrics of the two gated cases
}

}  // namespace
}  // namespace iomodels::harness
