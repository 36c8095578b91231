// The loadgen as a process: option errors, byte verification with size
// ranges, churn, idle connections, JSON schema, merge. Each test is bounded
// by request counts (or a second or two) and runs against an in-process echo
// server on 127.0.0.1.
#include <gtest/gtest.h>

#include "core/histogram.h"
#include "test_loadgen_util.h"
#include "tests/support/test_support.h"

namespace iomodels::test {
namespace {

TEST(LoadgenCli, BadValuesExit2NamingTheOption) {
  struct Case {
    const char* args;
    const char* expect;
  } cases[] = {
      {"--connections 0", "--connections"},
      {"--threads 0", "--threads"},
      {"--rate -5", "--rate"},
      {"--rate abc", "--rate"},
      {"--size 0", "--size"},
      {"--size 10-5", "--size"},
      {"--size x", "--size"},
      {"--pipeline 0", "--pipeline"},
      {"--protocol gopher", "--protocol"},
      {"--progress sometimes", "--progress"},
      {"--close-mode slam", "--close-mode"},
      {"--timeout 0", "--timeout"},
      {"--duration 0", "--duration"},
      {"--requests -1", "--requests"},
      {"--target nowhere", "--target"},
      {"--target ::1:7000", "--target"},  // IPv6 needs its brackets
      {"--target [::1]:7000 --source-addresses 4", "--source-addresses"},
      {"--no-such-option", "no-such-option"},
      {"--duration 5parsecs", "--duration"},
      {"--warmup soon", "--warmup"},
      {"--timeout 2days", "--timeout"},
      {"--notify-fd 999", "--notify-fd"},
  };
  for (const auto& c : cases) {
    LoadgenRun r = run_loadgen(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args;
    EXPECT_NE(r.stderr_text.find(c.expect), std::string::npos) << c.args << ": " << r.stderr_text;
    EXPECT_EQ(r.stderr_text.rfind("loadgen: ", 0), 0u) << r.stderr_text;
  }
}

TEST(LoadgenCli, HelpDocumentsEveryOption) {
  LoadgenRun r = run_loadgen("--help");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* opt : {"--target", "--protocol", "--connections", "--threads", "--duration",
                          "--warmup", "--requests", "--size", "--pipeline", "--rate",
                          "--requests-per-connection", "--idle-connections", "--timeout",
                          "--output", "--progress", "--close-mode", "--source-addresses",
                          "--notify-fd", "500ms", "merge"})
    EXPECT_NE(r.stdout_text.find(opt), std::string::npos) << opt;
}

TEST(LoadgenE2E, SizeRangesVerifyEveryByte) {
  TestEchoServer server;
  for (const char* proto : {"echo", "framed"}) {
    LoadgenRun r = run_loadgen("--target " + server.target() + " --protocol " + proto +
                               " -c 4 -t 2 --pipeline 4 --size 1-20000 -n 2000 -d 0 --progress off");
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
    ASSERT_TRUE(r.result.is_object());
    EXPECT_EQ(r.result["summary"]["requests"], 2000) << proto;
    EXPECT_EQ(total_errors(r.result), 0u) << r.stderr_text;
    // Sizes drawn from [1, 20000]: about 10 KB a request on average.
    uint64_t bytes = r.result["summary"]["bytes_received"];
    EXPECT_GT(bytes, 2000u * 5000u) << proto;
    // Exactly N requests went out, none before the window (no warmup), so
    // every byte sent was measured and came back.
    EXPECT_EQ(r.result["summary"]["sent"], 2000) << proto;
    EXPECT_EQ(r.result["summary"]["lost"]["total"], 0) << proto;
    EXPECT_EQ(r.result["summary"]["unsent"], 0) << proto;
    EXPECT_EQ(r.result["summary"]["bytes_sent"], r.result["summary"]["bytes_received"]);
    EXPECT_EQ(r.result["histogram"]["count"], 2000);
  }
}

// The same run over IPv6: the target in brackets, every byte verified, the
// family recorded, and the accept-queue check still sees the listener.
TEST(LoadgenE2E, Ipv6TargetInBrackets) {
  if (ipv6_loopback_missing()) GTEST_SKIP() << "this kernel has no IPv6 loopback (ipv6 disabled)";
  TestServerOptions o;
  o.bind = "::1";
  TestEchoServer server(o);
  ASSERT_EQ(server.target().rfind("[::1]:", 0), 0u) << server.target();
  LoadgenRun r = run_loadgen("--target '" + server.target() + "' -c 4 -n 500 -d 0 --size 100 --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.result["config"]["address_family"], "ipv6");
  EXPECT_EQ(r.result["summary"]["requests"], 500);
  EXPECT_EQ(total_errors(r.result), 0u) << r.stderr_text;
  EXPECT_EQ(r.result["summary"]["accept_queue"], "empty");
  EXPECT_EQ(server.accepted(), 4u);
  TestEchoServer v4;
  r = run_loadgen("--target " + v4.target() + " -c 1 -n 10 -d 0 --progress off");
  EXPECT_EQ(r.result["config"]["address_family"], "ipv4");
}

TEST(LoadgenE2E, ChurnOf20000ConnectionsHasNoErrors) {
  TestEchoServer server;
  LoadgenRun r = run_loadgen("--target " + server.target() +
                                 " -c 20 --requests-per-connection 1 -n 20000 -d 0 --size 32"
                                 " --timeout 10 --progress off",
                             170);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto& s = r.result["summary"];
  EXPECT_EQ(s["requests"], 20000);
  EXPECT_EQ(total_errors(r.result), 0u) << r.stderr_text;
  EXPECT_GE(s["connections"]["opened"].get<uint64_t>(), 20000u);
  EXPECT_GE(s["connections"]["closed_by_client"].get<uint64_t>(), 19980u);
  EXPECT_EQ(s["connections"]["close_mode"], "fin");
  EXPECT_GT(r.result["config"]["source_addresses"].get<int>(), 1);
  EXPECT_GE(r.result["connect_us"]["count"].get<uint64_t>(), 19980u);
  EXPECT_GE(server.accepted(), 20000u);
}

TEST(LoadgenE2E, ChurnWithRstCloseLeavesNoTimeWait) {
  TestEchoServer server;
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " -c 4 --requests-per-connection 5 -n 1000 -d 0 --close-mode rst"
                             " --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.result["summary"]["requests"], 1000);
  EXPECT_EQ(total_errors(r.result), 0u) << r.stderr_text;
  EXPECT_EQ(r.result["summary"]["connections"]["close_mode"], "rst");
}

TEST(LoadgenE2E, FiveThousandIdlePlusTenActive) {
  TestEchoServer server;
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " -c 10 --idle-connections 5000 -d 1 --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const auto& s = r.result["summary"];
  EXPECT_EQ(s["idle"]["opened"], 5000);
  EXPECT_EQ(s["idle"]["failed"], 0);
  EXPECT_EQ(s["idle"]["closed_by_peer"], 0);
  EXPECT_GT(s["requests"].get<uint64_t>(), 0u);
  EXPECT_EQ(total_errors(r.result), 0u) << r.stderr_text;
  EXPECT_GE(server.accepted(), 5010u);
}

TEST(LoadgenE2E, RefusesMoreConnectionsThanTheFdLimit) {
  LoadgenRun r = run_loadgen("--target 127.0.0.1:9 -c 10 --idle-connections 999999 -d 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("--idle-connections"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("RLIMIT_NOFILE"), std::string::npos) << r.stderr_text;
}

TEST(LoadgenE2E, ConnectErrorsAreCountedNotFatal) {
  // Bind a port, then close it: nothing listens there, connects are refused.
  uint16_t port;
  {
    Fd l = make_listener({});
    port = local_port(l.get());
  }
  LoadgenRun r = run_loadgen("--target 127.0.0.1:" + std::to_string(port) + " -c 2 -d 0.3 --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_GT(r.result["summary"]["errors"]["connect"].get<uint64_t>(), 0u);
  EXPECT_EQ(r.result["summary"]["requests"], 0);
}

TEST(LoadgenE2E, JsonValidatesAgainstTheSchema) {
  if (std::system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3-jsonschema is not installed";
  TestEchoServer server;
  std::string dir = temp_dir();
  std::string out = dir + "/open.json";
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " -c 4 --rate 2000 -d 1 --size 10-100 --progress off -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_TRUE(r.stdout_text.empty());  // --output: nothing on stdout
  std::string cmd = "/usr/bin/python3 " IOMODELS_SOURCE_DIR "/tests/e2e/validate_schema.py " +
                    std::string(IOMODELS_SOURCE_DIR) + "/results/schema/loadgen.schema.json " + out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(LoadgenE2E, MergeAddsHistogramsAndRecomputesPercentiles) {
  TestEchoServer server;
  std::string dir = temp_dir();
  std::vector<std::string> files = {dir + "/a.json", dir + "/b.json"};
  for (const auto& f : files) {
    LoadgenRun r = run_loadgen("--target " + server.target() + " -c 3 -n 1500 -d 0 --progress off -o " + f);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  }
  LoadgenRun m = run_loadgen("merge " + files[0] + " " + files[1]);
  ASSERT_EQ(m.exit_code, 0) << m.stderr_text;
  ASSERT_TRUE(m.result.is_object());
  EXPECT_EQ(m.result["summary"]["requests"], 3000);
  EXPECT_EQ(m.result["histogram"]["count"], 3000);
  EXPECT_EQ(m.result["config"]["connections"], 6);
  // The same percentiles, computed here from the two files' buckets.
  Histogram both;
  double max_us = 0;
  for (const auto& f : files) {
    auto j = nlohmann::json::parse(read_file(f));
    for (const auto& b : j["histogram"]["buckets"]) both.record(b[0].get<uint64_t>(), b[1].get<uint64_t>());
    max_us = std::max(max_us, j["latency_us"]["max"].get<double>());
  }
  for (auto [key, p] : {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}}) {
    double got = m.result["latency_us"][key];
    double want = static_cast<double>(both.value_at_percentile(p)) / 1000.0;
    EXPECT_NEAR(got, want, want * 0.002 + 0.002) << key;
  }
  EXPECT_DOUBLE_EQ(m.result["latency_us"]["max"].get<double>(), max_us);
  LoadgenRun bad = run_loadgen("merge /nonexistent.json");
  EXPECT_NE(bad.exit_code, 0);
}

}  // namespace
}  // namespace iomodels::test
