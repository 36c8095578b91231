// The harness end to end: the smoke suite through run, compare, plot and
// Google Benchmark's compare.py; bad suites; a server killed mid-case; the
// harness itself killed with SIGKILL. Tests skip (with the reason) when the
// harness, the loadgen or the smoke suite's servers were not built.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include <nlohmann/json.hpp>

#include "harness/run/results.h"
#include "loadgen/result.h"
#include "test_harness_util.h"
#include "tests/support/test_support.h"

namespace iomodels::test::harness {
namespace {

namespace metric = iomodels::harness::metric;

#define REQUIRE_HARNESS() \
  if (kHarness.empty() || !file_exists(kHarness)) GTEST_SKIP() << "harness not built"
#define REQUIRE_LOADGEN_AND(server)                                                        \
  REQUIRE_HARNESS();                                                                       \
  if (kLoadgen.empty() || !file_exists(kLoadgen)) GTEST_SKIP() << "loadgen not built";     \
  if (!file_exists(kBin + "/" server)) GTEST_SKIP() << server " not built"

class HarnessRun : public TempDirTest {};

TEST_F(HarnessRun, SmokeSuiteRunsComparesAndPlots) {
  REQUIRE_LOADGEN_AND("epoll_lt");
  const std::string out = dir_ + "/smoke";
  CmdResult r = run_cmd(kHarness + " run --suite " + kSrc + "/harness/suites/smoke.json --out " + out +
                        " --bin-dir " + kBin + " --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(file_exists(out + "/run.json")) << r.output;
  EXPECT_EQ(validate_run_json(out + "/run.json"), "");

  auto run = nlohmann::json::parse(read_file(out + "/run.json"));
  EXPECT_EQ(run["schema"], "iomodels.run/2");
  int ok = 0;
  for (const auto& c : run["cases"]) {
    if (c["status"] != "ok") continue;
    ++ok;
    EXPECT_GT(c["aggregate"][metric::kRequestsPerS]["median"].get<double>(), 0) << c["name"];
    EXPECT_FALSE(c["repetitions"][0]["server_stats"].is_null()) << c["name"];
    EXPECT_FALSE(c["repetitions"][0]["server_stats_window"].is_null()) << c["name"];
    EXPECT_TRUE(c["aggregate"]["cost_per_message"].is_object()) << c["name"];
  }
  ASSERT_GE(ok, 1) << r.output;

  // Google Benchmark's own tool reads gbench.json.
  const std::string compare_py = "/usr/share/benchmark/compare.py";
  if (file_exists(compare_py)) {
    CmdResult g = run_cmd("/usr/bin/python3 " + compare_py + " benchmarks " + out + "/gbench.json " + out +
                          "/gbench.json", 60);
    EXPECT_EQ(g.exit_code, 0) << g.output;
    EXPECT_NE(g.output.find("epoll_lt/echo/c4/s64"), std::string::npos) << g.output;
  }

  CmdResult self = run_cmd(kHarness + " compare " + out + " " + out + "/run.json");
  EXPECT_EQ(self.exit_code, 0) << self.output;

  // Halve one case's req/s by hand: the gate must fire.
  auto halved = run;
  for (auto& c : halved["cases"])
    if (c["status"] == "ok") {
      const char* kRps = loadgen::json_field::kRequestsPerS;
      for (auto& rep : c["repetitions"])
        rep["loadgen"]["summary"][kRps] = rep["loadgen"]["summary"][kRps].get<double>() / 2;
      break;
    }
  write_file(dir_ + "/halved.json", halved.dump());
  CmdResult bad = run_cmd(kHarness + " compare " + out + "/run.json " + dir_ + "/halved.json");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("REGRESSION"), std::string::npos) << bad.output;

  // The same compare as a page: its data beside it, the halved
  // case a regression with an interval around its ratio, a page that resolves.
  CmdResult page = run_cmd(kHarness + " compare " + out + "/run.json " + dir_ + "/halved.json --html " + dir_ +
                           "/cmp/compare.html", 120);
  EXPECT_EQ(page.exit_code, 1) << page.output;
  ASSERT_TRUE(file_exists(dir_ + "/cmp/compare.json")) << page.output;
  auto cmp = nlohmann::json::parse(read_file(dir_ + "/cmp/compare.json"));
  EXPECT_EQ(cmp["schema"], "iomodels.compare/1");
  int regressions = 0;
  for (const auto& c : cmp["cases"]) {
    if (c["verdict"] != "regression") continue;
    ++regressions;
    const auto& m = c["metrics"][metric::kRequestsPerS];
    EXPECT_NEAR(m["ratio"].get<double>(), 0.5, 0.01) << c.dump();
    EXPECT_LE(m["lo"].get<double>(), m["ratio"].get<double>()) << c.dump();
    EXPECT_GE(m["hi"].get<double>(), m["ratio"].get<double>()) << c.dump();
  }
  EXPECT_EQ(regressions, 1) << cmp.dump(1);
  std::string html = read_file(dir_ + "/cmp/compare.html");
  EXPECT_NE(html.find("1 regression"), std::string::npos);
  CmdResult check = run_cmd("/usr/bin/python3 " + kSrc + "/tests/e2e/check_report.py " + dir_ + "/cmp/compare.html", 60);
  EXPECT_EQ(check.exit_code, 0) << check.output;

  CmdResult plot = run_cmd("/usr/bin/python3 " + kSrc + "/plots/plot.py " + out, 120);
  EXPECT_EQ(plot.exit_code, 0) << plot.output;
  EXPECT_TRUE(file_exists(out + "/index.html"));
}

TEST_F(HarnessRun, BadSuiteExits2NamingTheField) {
  REQUIRE_HARNESS();
  struct Bad {
    const char* json;
    const char* field;
  } cases[] = {
      {R"({"name":"x","groups":[{"connections":"many"}]})", "groups[0].connections"},
      {R"({"name":"x","groups":[{"connections":[1,0]}]})", "groups[0].connections[1]"},
      {R"({"name":"x","groups":[{"protocol":"gopher"}]})", "groups[0].protocol"},
      {R"({"name":"x","servers":["nginx"],"groups":[{}]})", "servers[0]"},
      {R"({"name":"x","defaults":{"durration":1},"groups":[{}]})", "defaults.durration"},
      {R"({"groups":[{}]})", "name"},
      {R"({"name":"x","groups":[{}],"extra":1})", "extra"},
      {R"({"name":"x", "groups": [)", "not valid JSON"},
      // a number no double holds (the suite_file fuzzer found it: json threw out_of_range, not parse_error)
      {R"({"name":"x","defaults":{"duration":7777777777777777777777777777777777777777e7777777777},"groups":[{}]})",
       "not valid JSON"},
      {R"({"name":"x","groups":[{"server_args":{"nginx":["-g"]}}]})", "groups[0].server_args.nginx"},
      {R"({"name":"x","groups":[{"server_args":{"epoll_lt":[["--a"],[1]]}}]})", "groups[0].server_args.epoll_lt[1][0]"},
      {R"({"name":"x","groups":[{"server_args":{"epoll_lt":[["--a"],["--a"]]}}]})", "same parameters"},
      // a group name that is no string (the suite_file fuzzer: json threw type_error, not SuiteError)
      {R"({"name":"x","groups":[{"name":[1,16]}]})", "groups[0].name"},
      {R"({"name":"x","groups":[{"aa":1}]})", "groups[0].aa"},
      {R"({"name":"x","groups":[{"repetitions":0}]})", "groups[0].repetitions"},
      {R"({"name":"x","groups":[{"count_syscalls":"yes"}]})", "groups[0].count_syscalls"},
      {R"({"name":"x","groups":[{}],"callgrind":{"workloads":["tcp/c1"]}})", "callgrind.workloads[0]"},
      {R"({"name":"x","groups":[{}],"callgrind":{"workloads":["echo/c1"],"requests":[5,5]}})", "callgrind.requests"},
  };
  for (const auto& b : cases) {
    write_file(dir_ + "/bad.json", b.json);
    CmdResult r = run_cmd(kHarness + " run --suite " + dir_ + "/bad.json --out " + dir_ + "/o --bin-dir " + dir_, 30);
    EXPECT_EQ(r.exit_code, 2) << b.json << "\n" << r.output;
    EXPECT_NE(r.output.find(b.field), std::string::npos) << b.json << "\n" << r.output;
  }
}

// --family ipv6: the server binds ::1, the loadgen targets [::1]:PORT, and
// run.json says so in its context and in each loadgen result.
TEST_F(HarnessRun, FamilyIpv6RunsOverIpv6Loopback) {
  REQUIRE_LOADGEN_AND("epoll_lt");
  if (ipv6_loopback_missing()) GTEST_SKIP() << "this kernel has no IPv6 loopback (ipv6 disabled)";
  write_file(dir_ + "/s.json", R"({"name": "v6", "repetitions": 1, "servers": ["epoll_lt"],
      "defaults": {"protocol": "echo", "size": 64, "duration": 0.3, "warmup": 0.1},
      "groups": [{"name": "c", "connections": 2}]})");
  CmdResult r = run_cmd(kHarness + " run --suite " + dir_ + "/s.json --out " + dir_ + "/o --bin-dir " + kBin +
                        " --progress off --no-micro --calibration-ms 0 --family ipv6", 60);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(validate_run_json(dir_ + "/o/run.json"), "");
  auto run = nlohmann::json::parse(read_file(dir_ + "/o/run.json"));
  EXPECT_EQ(run["context"]["address_family"], "ipv6");
  const auto& c = run["cases"][0];
  ASSERT_EQ(c["status"], "ok") << c["reason"];
  const auto& lg = c["repetitions"][0]["loadgen"];
  EXPECT_EQ(lg["config"]["address_family"], "ipv6");
  EXPECT_EQ(lg["config"]["target"].get<std::string>().rfind("[::1]:", 0), 0u) << lg["config"];
  EXPECT_EQ(c["repetitions"][0]["server_stats"]["options"]["bind"], "::1");
  r = run_cmd(kHarness + " run --suite " + dir_ + "/s.json --out " + dir_ + "/o2 --bin-dir " + kBin + " --family ipv5", 30);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--family"), std::string::npos) << r.output;
}

// A group's server_args runs a server once per argument list (a variant), named
// with its arguments, next to the same case on the servers without variants.
TEST_F(HarnessRun, ServerArgsVariantsRunSideBySide) {
  REQUIRE_LOADGEN_AND("io_uring_multishot");
  write_file(dir_ + "/variants.json", R"({"name": "variants", "repetitions": 1,
    "servers": ["epoll_lt", "io_uring_multishot"],
    "defaults": {"duration": 0.3, "warmup": 0.1, "connections": 4},
    "groups": [{"name": "setup",
                "server_args": {"io_uring_multishot": [["--setup", "defer"], ["--setup", "plain"]]}}]})");
  const std::string out = dir_ + "/v";
  CmdResult r = run_cmd(kHarness + " run --suite " + dir_ + "/variants.json --out " + out + " --bin-dir " + kBin +
                        " --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto run = nlohmann::json::parse(read_file(out + "/run.json"));
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& c : run["cases"]) by_name[c["name"]] = c;
  ASSERT_EQ(by_name.size(), 3u) << run["cases"].dump();
  ASSERT_TRUE(by_name.count("epoll_lt/echo/c4/s64"));
  EXPECT_EQ(by_name["epoll_lt/echo/c4/s64"]["variant"], "");
  EXPECT_EQ(by_name["epoll_lt/echo/c4/s64"]["case_id"], "echo/c4/s64");
  for (const char* setup : {"defer", "plain"}) {
    const std::string name = std::string("io_uring_multishot[--setup ") + setup + "]/echo/c4/s64";
    ASSERT_TRUE(by_name.count(name)) << name;
    const auto& c = by_name[name];
    EXPECT_EQ(c["server"], "io_uring_multishot");
    EXPECT_EQ(c.value("variant", "(none)"), std::string("--setup ") + setup);
    EXPECT_EQ(c.value("case_id", "(none)"), "echo/c4/s64");
    EXPECT_EQ(c["server_args"], nlohmann::json({"--setup", setup}));
    if (c["status"] != "ok") continue;  // e.g. a kernel without io_uring: its reason says so
    EXPECT_EQ(c["repetitions"][0]["server_stats"]["options"]["setup"], setup) << c.dump();
  }
}

TEST_F(HarnessRun, EveryShippedSuiteParses) {
  REQUIRE_HARNESS();
  // An empty bin dir: the suite is parsed and then the missing loadgen stops
  // the run with exit 3, never with the bad-suite exit 2.
  for (const char* s : {"smoke", "quick", "default", "c10k", "churn"}) {
    CmdResult r = run_cmd(kHarness + " run --suite " + kSrc + "/harness/suites/" + s + ".json --out " + dir_ +
                          "/o --bin-dir " + dir_, 30);
    EXPECT_EQ(r.exit_code, 3) << s << "\n" << r.output;
    EXPECT_NE(r.output.find("loadgen"), std::string::npos) << r.output;
  }
}

// Fault: the fake "epoll_lt" is a script that arms a SIGKILL of itself and
// execs the real server, so the server dies 0.6 s into a 1.5 s case. The case
// must be failed with the signal in its reason, the next server must still
// run, and nothing the harness started may remain.
TEST_F(HarnessRun, ServerKilledMidCaseIsFailedAndNothingIsLeft) {
  REQUIRE_LOADGEN_AND("epoll_lt");
  const std::string bin = dir_ + "/bin";
  ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(kLoadgen.c_str(), (bin + "/loadgen").c_str()), 0);
  // $$ is the script's PID, which exec hands on to the server.
  write_file(bin + "/epoll_lt", "#!/bin/sh\n( sleep 0.6; kill -9 $$ ) &\nexec " + kBin + "/epoll_lt \"$@\"\n", true);
  const bool have_second = file_exists(kBin + "/blocking_threads");
  if (have_second) {
    ASSERT_EQ(::symlink((kBin + "/blocking_threads").c_str(), (bin + "/blocking_threads").c_str()), 0);
  }
  write_file(dir_ + "/fault.json", R"({"name": "fault", "repetitions": 1,
      "servers": ["epoll_lt", "blocking_threads"],
      "defaults": {"duration": 1.5, "warmup": 0.2, "timeout": 2},
      "groups": [{"name": "echo", "connections": 4}]})");
  const std::string marker = "IOMODELS_TEST_MARKER=fault" + std::to_string(::getpid());
  CmdResult r = run_cmd("env " + marker + " " + kHarness + " run --suite " + dir_ + "/fault.json --out " + dir_ +
                        "/out --bin-dir " + bin + " --progress off", 60);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto run = nlohmann::json::parse(read_file(dir_ + "/out/run.json"));
  ASSERT_EQ(run["cases"].size(), 2u);
  const auto& killed = run["cases"][0];
  EXPECT_EQ(killed["server"], "epoll_lt");
  EXPECT_EQ(killed["status"], "failed");
  EXPECT_NE(killed["reason"].get<std::string>().find("signal 9"), std::string::npos) << killed["reason"];
  const auto& next = run["cases"][1];
  EXPECT_EQ(next["status"], have_second ? "ok" : "failed") << next["reason"];
  EXPECT_EQ(validate_run_json(dir_ + "/out/run.json"), "");
  EXPECT_TRUE(wait_marked_gone(marker, 2000).empty()) << "processes left behind";
}

// SIGKILL of the harness itself: PR_SET_PDEATHSIG takes server and loadgen down.
TEST_F(HarnessRun, NoChildOutlivesAKilledHarness) {
  REQUIRE_LOADGEN_AND("epoll_lt");
  write_file(dir_ + "/long.json", R"({"name": "long", "repetitions": 1, "servers": ["epoll_lt"],
      "defaults": {"duration": 20, "warmup": 0}, "groups": [{"connections": 2}]})");
  const std::string marker = "IOMODELS_TEST_MARKER=kill" + std::to_string(::getpid());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::putenv(const_cast<char*>(marker.c_str()));
    ::execl(kHarness.c_str(), kHarness.c_str(), "run", "--suite", (dir_ + "/long.json").c_str(), "--out",
            (dir_ + "/out").c_str(), "--bin-dir", kBin.c_str(), "--progress", "off", nullptr);
    ::_exit(127);
  }
  // Wait (bounded) until the harness has its server and loadgen running.
  bool started = false;
  for (int i = 0; i < 100 && !started; ++i) {
    ::usleep(50'000);
    started = pids_with_env(marker).size() >= 3;  // harness, server, loadgen
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(started) << "the harness never started its children";
  EXPECT_TRUE(wait_marked_gone(marker, 3000).empty()) << "a child outlived the harness";
}

}  // namespace
}  // namespace iomodels::test::harness
