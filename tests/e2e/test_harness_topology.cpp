// The harness over topologies other than loopback: a netns lab with two
// client namespaces (merged results, both source addresses served), the
// delay of an emulated link, cleanup after SIGKILL, and a client host whose
// transport fails. Needs root and `ip netns`; skipped with the reason otherwise.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_harness_util.h"

using namespace iomodels::test::harness;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::set<std::string> lab_namespaces() {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("iomns-", 0) == 0) out.insert(n);
  }
  return out;
}

// Lab namespaces whose owner (the pid in the name) is gone: what a run that
// did not clean up leaves. Other tests' live labs may exist meanwhile.
std::set<std::string> orphaned_namespaces() {
  std::set<std::string> out;
  for (const auto& n : lab_namespaces()) {
    long owner = std::strtol(n.c_str() + 6, nullptr, 10);
    if (owner <= 0 || ::kill(static_cast<pid_t>(owner), 0) != 0) out.insert(n);
  }
  return out;
}

class HarnessTopology : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "netns topology needs root";
    if (run_cmd("ip netns list", 10).exit_code != 0) GTEST_SKIP() << "`ip netns` unavailable (iproute2)";
    dir_ = make_temp_dir();
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string suite(const std::string& servers, double duration, long connections = 8) {
    std::string path = dir_ + "/suite.json";
    write_file(path, R"({"name": "topo", "repetitions": 1, "servers": )" + servers +
                         R"(, "defaults": {"protocol": "echo", "size": 64, "duration": )" +
                         std::to_string(duration) + R"(, "warmup": 0.2},
                         "groups": [{"name": "c", "connections": )" + std::to_string(connections) + "}]}");
    return path;
  }
  CmdResult harness(const std::string& args, int limit_s = 120) {
    return run_cmd(std::string(IOMODELS_harness_PATH) + " run --progress off --no-micro --calibration-ms 0 " +
                       args, limit_s);
  }
  std::string dir_;
};

TEST_F(HarnessTopology, TwoClientNamespacesAreMergedAndBothServed) {
  CmdResult r = harness("--suite " + suite(R"(["epoll_lt"])", 1.0) + " --out " + dir_ + "/out --topology netns --clients 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json run = json::parse(read_file(dir_ + "/out/run.json"));
  EXPECT_EQ(run["context"]["topology"], "netns");
  ASSERT_EQ(run["context"]["hosts"].size(), 3u);
  EXPECT_EQ(run["context"]["hosts"][0]["role"], "server");
  EXPECT_EQ(run["context"]["hosts"][0]["address"], "198.18.0.1");
  EXPECT_NE(run["context"]["hosts"][1]["kernel"].get<std::string>().find("Linux"), std::string::npos);
  const json& c = run["cases"][0];
  ASSERT_EQ(c["status"], "ok") << c["reason"];
  const json& rep = c["repetitions"][0];
  ASSERT_EQ(rep["clients"].size(), 2u);
  double sum = 0, hist = 0;
  std::set<std::string> addresses;
  for (const auto& part : rep["clients"]) {
    // Each client namespace owns one address: a reply to it proves the
    // server accepted and served connections from that source address.
    EXPECT_GT(part["requests"].get<double>(), 0) << part;
    EXPECT_EQ(part["connections"], 4);
    sum += part["requests"].get<double>();
    hist += part["histogram_count"].get<double>();
    addresses.insert(part["address"].get<std::string>());
  }
  EXPECT_EQ(addresses, (std::set<std::string>{"198.18.1.1", "198.18.1.2"}));
  const json& lg = rep["loadgen"];
  EXPECT_EQ(lg["summary"]["requests"].get<double>(), sum);
  EXPECT_EQ(lg["histogram"]["count"].get<double>(), hist);
  EXPECT_EQ(rep["server_stats"]["counters"]["accepted"], 8) << rep["server_stats"];
  EXPECT_GT(rep["server_cpu"]["cpu_ns"].get<double>(), 0);
  EXPECT_EQ(validate_run_json(dir_ + "/out/run.json"), "");
  EXPECT_TRUE(orphaned_namespaces().empty()) << "a finished run left namespaces behind";
}

// The same lab over IPv6: addresses from the ULA prefix fd00:198:18::/64,
// both client namespaces served, the family recorded.
TEST_F(HarnessTopology, TwoClientNamespacesOverIpv6) {
  CmdResult r = harness("--suite " + suite(R"(["epoll_lt"])", 0.5, 4) + " --out " + dir_ +
                        "/out --topology netns --clients 2 --family ipv6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json run = json::parse(read_file(dir_ + "/out/run.json"));
  EXPECT_EQ(run["context"]["address_family"], "ipv6");
  EXPECT_EQ(run["context"]["hosts"][0]["address"], "fd00:198:18::1");
  const json& c = run["cases"][0];
  ASSERT_EQ(c["status"], "ok") << c["reason"];
  const json& rep = c["repetitions"][0];
  std::set<std::string> addresses;
  for (const auto& part : rep["clients"]) {
    EXPECT_GT(part["requests"].get<double>(), 0) << part;
    addresses.insert(part["address"].get<std::string>());
  }
  EXPECT_EQ(addresses, (std::set<std::string>{"fd00:198:18::1:1", "fd00:198:18::1:2"}));
  EXPECT_EQ(rep["loadgen"]["config"]["address_family"], "ipv6");
  EXPECT_EQ(rep["server_stats"]["options"]["bind"], "fd00:198:18::1");
  EXPECT_EQ(rep["server_stats"]["counters"]["accepted"], 4) << rep["server_stats"];
  EXPECT_TRUE(orphaned_namespaces().empty()) << "a finished run left namespaces behind";
}

TEST_F(HarnessTopology, FiveMsDelayGivesATenMsRoundTrip) {
  bool netem = run_cmd("sh -c 'ip netns add iomns-probe-netem && ip netns exec iomns-probe-netem "
                       "tc qdisc add dev lo root netem delay 1ms; rc=$?; ip netns del iomns-probe-netem; exit $rc'", 20)
                   .exit_code == 0;
  if (!netem && ::access("/dev/net/tun", R_OK | W_OK) != 0)
    GTEST_SKIP() << "kernel lacks sch_netem and /dev/net/tun: no delay emulation here";
  CmdResult r = harness("--suite " + suite(R"(["epoll_lt"])", 1.0, 4) + " --out " + dir_ +
                        "/out --topology netns --link delay=5ms");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json run = json::parse(read_file(dir_ + "/out/run.json"));
  EXPECT_EQ(run["context"]["link_emulation"], netem ? "netem" : "delayline");
  const json& lg = run["cases"][0]["repetitions"][0]["loadgen"];
  // Every request crosses the link twice, so none is faster than 10 ms; the
  // upper bound is generous (the delay line shares a CPU on a loaded machine).
  EXPECT_GE(lg["latency_us"]["min"].get<double>(), 10000);
  EXPECT_GE(lg["latency_us"]["p50"].get<double>(), 10000);
  EXPECT_LE(lg["latency_us"]["p50"].get<double>(), 30000);
  if (!netem) {
    EXPECT_NE(r.output.find("delay line"), std::string::npos) << r.output;
    std::string log = read_file(dir_ + "/out/logs/delayline.log");
    EXPECT_NE(log.find("c2s packets="), std::string::npos) << log;  // counters printed at its exit
  }
}

// The wan suite's lossy link (./run_all.sh wan: 10 ms RTT, 0.1% loss each
// way), one server, one round: it runs over netem or the delay line, the link
// is recorded, and the wan report shows it as a column of its own.
TEST_F(HarnessTopology, LossyWanCaseRunsAndTheReportShowsIt) {
  bool netem = run_cmd("sh -c 'ip netns add iomns-probe-netem && ip netns exec iomns-probe-netem "
                       "tc qdisc add dev lo root netem delay 1ms; rc=$?; ip netns del iomns-probe-netem; exit $rc'", 20)
                   .exit_code == 0;
  if (!netem && ::access("/dev/net/tun", R_OK | W_OK) != 0)
    GTEST_SKIP() << "kernel lacks sch_netem and /dev/net/tun: no link emulation here";
  CmdResult r = harness("--suite " + std::string(IOMODELS_SOURCE_DIR) + "/harness/suites/wan.json --servers epoll_lt "
                        "--repetitions 1 --out " + dir_ + "/lossy --topology netns --link delay=5ms,loss=0.1%", 170);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json run = json::parse(read_file(dir_ + "/lossy/run.json"));
  EXPECT_EQ(run["context"]["link_params"]["loss_pct"], 0.1);
  EXPECT_EQ(run["context"]["link_params"]["rtt_ms"], 10.0);
  ASSERT_EQ(run["cases"].size(), 2u);  // 64 and 1,000 connections
  for (const auto& c : run["cases"]) {
    // A lost segment costs a retransmission, not a request: ok, or degraded
    // with its reason, never failed.
    EXPECT_NE(c["status"], "failed") << c["reason"];
    ASSERT_FALSE(c["repetitions"].empty()) << c["name"];
    EXPECT_GT(c["repetitions"][0]["loadgen"]["summary"]["requests"].get<double>(), 0) << c["name"];
  }
  if (!netem) {
    std::string log = read_file(dir_ + "/lossy/logs/delayline.log");
    EXPECT_NE(log.find("lost="), std::string::npos) << log;
  }
  CmdResult report = run_cmd("/usr/bin/python3 " + std::string(IOMODELS_SOURCE_DIR) + "/plots/wan.py " + dir_ +
                                 "/report " + dir_ + "/lossy", 120);
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("RTT 10 ms, 0.1% loss"), std::string::npos) << report.output;
  EXPECT_NE(report.output.find("| epoll_lt | 1000 |"), std::string::npos) << report.output;
  EXPECT_TRUE(fs::exists(dir_ + "/report/throughput_vs_rtt.png"));
}

TEST_F(HarnessTopology, LinkWithoutNetemOrRootExitsTwo) {
  CmdResult r = harness("--suite " + suite(R"(["epoll_lt"])", 0.5) + " --out " + dir_ + "/o --topology wan");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--topology"), std::string::npos) << r.output;
  r = harness("--suite " + suite(R"(["epoll_lt"])", 0.5) + " --out " + dir_ + "/o --link delay=5ms");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--link"), std::string::npos) << r.output;
}

TEST_F(HarnessTopology, SigkillLeftoversAreRemovedByTheNextRun) {
  std::string cmd = std::string(IOMODELS_harness_PATH) + " run --progress off --no-micro --calibration-ms 0 --suite " +
                    suite(R"(["epoll_lt"])", 20.0) + " --out " + dir_ + "/k --topology netns > /dev/null 2>&1 & echo $!";
  CmdResult bg = run_cmd("sh -c '" + cmd + "'", 10);
  int pid = std::atoi(bg.output.c_str());
  ASSERT_GT(pid, 0) << bg.output;
  std::set<std::string> made;
  for (int i = 0; i < 200 && made.empty(); ++i) {
    ::usleep(50'000);
    for (const auto& n : lab_namespaces())
      if (n.rfind("iomns-" + std::to_string(pid) + "-", 0) == 0) made.insert(n);
  }
  ASSERT_FALSE(made.empty()) << "the harness made no namespaces";
  ::usleep(500'000);  // let it finish building the lab
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) ::usleep(20'000);
  for (const auto& n : made) EXPECT_TRUE(fs::exists("/run/netns/" + n)) << n;
  // The next run cleans up by name before building its own lab.
  CmdResult r = harness("--suite " + suite(R"(["epoll_lt"])", 0.3, 2) + " --out " + dir_ + "/n --topology netns");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const auto& n : made) EXPECT_FALSE(fs::exists("/run/netns/" + n)) << n << " survived";
  EXPECT_TRUE(orphaned_namespaces().empty());
}

TEST_F(HarnessTopology, AFailingTransportFailsTheCaseAndTheRunGoesOn) {
  std::string hosts = dir_ + "/hosts.json";
  write_file(hosts, std::string(R"({"server": {"name": "srv", "transport": "local", "address": "127.0.0.1",
      "bin_dir": ")") + IOMODELS_BINARY_DIR + R"("},
    "clients": [{"name": "ok", "transport": "local", "bin_dir": ")" + IOMODELS_BINARY_DIR + R"("},
                {"name": "broken", "transport": "/nonexistent/ssh -o BatchMode=yes broken",
                 "bin_dir": "/opt/iomodels"}]})");
  CmdResult r = harness("--suite " + suite(R"(["epoll_lt", "poll"])", 0.5, 4) + " --out " + dir_ +
                        "/h --topology hosts:" + hosts);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json run = json::parse(read_file(dir_ + "/h/run.json"));
  ASSERT_EQ(run["cases"].size(), 2u);
  for (const auto& c : run["cases"]) {
    EXPECT_EQ(c["status"], "failed") << c["name"];
    EXPECT_NE(c["reason"].get<std::string>().find("broken"), std::string::npos) << c["reason"];
  }
  // The same file without the broken host runs.
  write_file(hosts, std::string(R"({"server": {"name": "srv", "transport": "local", "address": "127.0.0.1",
      "bin_dir": ")") + IOMODELS_BINARY_DIR + R"("},
    "clients": [{"name": "ok", "transport": "local", "bin_dir": ")" + IOMODELS_BINARY_DIR + R"("}]})");
  r = harness("--suite " + suite(R"(["epoll_lt"])", 0.5, 4) + " --out " + dir_ + "/g --topology hosts:" + hosts);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  run = json::parse(read_file(dir_ + "/g/run.json"));
  EXPECT_EQ(run["cases"][0]["status"], "ok") << run["cases"][0]["reason"];
}

}  // namespace
