// Topologies: the --link parser, the hosts file, and the netns lab's life
// cycle (made, reachable, removed, leftovers of a killed run cleaned up).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "harness/remote/topology.h"
#include "netns_probe.h"
#include "test_paths.inc"

using namespace iomodels::harness;
using iomodels::test::refused_connect_ms;

namespace {

bool ns_exists(const std::string& name) { return std::filesystem::exists("/run/netns/" + name); }

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

}  // namespace

TEST(LinkSpec, ParsesEveryKey) {
  LinkSpec l = parse_link("delay=5ms,jitter=500us,loss=0.1%,rate=1gbit");
  EXPECT_DOUBLE_EQ(l.delay_ms, 5);
  EXPECT_DOUBLE_EQ(l.jitter_ms, 0.5);
  EXPECT_DOUBLE_EQ(l.loss_pct, 0.1);
  EXPECT_EQ(l.rate, "1gbit");
  auto a = l.netem_args();
  std::string joined;
  for (auto& s : a) joined += s + " ";
  EXPECT_EQ(joined, "netem delay 5ms 0.5ms loss 0.1% rate 1gbit ");
  EXPECT_EQ(l.to_json()["rtt_ms"], 10.0);
  EXPECT_TRUE(parse_link("").empty());
  LinkSpec n = parse_link("delay=5ms,jitter=1ms,distribution=normal");
  joined.clear();
  for (auto& s : n.netem_args()) joined += s + " ";
  EXPECT_EQ(joined, "netem delay 5ms 1ms distribution normal ");
  EXPECT_EQ(n.to_json()["distribution"], "normal");
  EXPECT_EQ(parse_link("delay=5ms,jitter=1ms").to_json()["distribution"], "uniform");  // netem's default
}

TEST(LinkSpec, BadValuesNameTheKey) {
  for (const char* bad : {"delay=5", "delay=-1ms", "loss=2", "loss=101%", "rate=fast", "speed=1", "delay",
                          "delay=5ms,jitter=1ms,distribution=gauss", "delay=5ms,distribution=normal"}) {
    try {
      parse_link(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("--link"), std::string::npos) << e.what();
    }
  }
}

TEST(HostsFile, DefaultsToSshAndChecksFields) {
  auto j = nlohmann::json::parse(R"({
    "server": {"name": "s1", "cpus": "0-1", "bin_dir": "/opt/b", "address": "10.0.0.1"},
    "clients": [{"name": "c1", "bin_dir": "/opt/b"}, {"name": "c2", "transport": "local", "bin_dir": "/b"}]})");
  Topology t = parse_hosts(j, "h.json");
  EXPECT_EQ(t.kind, "hosts");
  ASSERT_EQ(t.server.prefix.size(), 4u);
  EXPECT_EQ(t.server.prefix[0], "ssh");
  EXPECT_EQ(t.server.prefix[3], "s1");
  EXPECT_EQ(t.server.cpus, (std::vector<int>{0, 1}));
  ASSERT_EQ(t.clients.size(), 2u);
  EXPECT_TRUE(t.clients[1].prefix.empty());
  j["server"].erase("address");
  EXPECT_THROW(parse_hosts(j, "h.json"), std::invalid_argument);
  j["server"]["address"] = "10.0.0.1";
  j["clients"][0]["cpus"] = "x";
  try {
    parse_hosts(j, "h.json");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("clients[0].cpus"), std::string::npos) << e.what();
  }
}

class NetnsLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!netns_supported(&why)) GTEST_SKIP() << why;
  }
};

TEST_F(NetnsLabTest, BuildsReachableNamespacesAndRemovesThem) {
  std::vector<std::string> names;
  {
    NetnsLab lab(2, LinkSpec{}, "/nonexistent", {0}, {1});
    names = lab.namespaces();
    ASSERT_EQ(names.size(), 4u);  // switch, server, two clients
    for (auto& n : names) EXPECT_TRUE(ns_exists(n)) << n;
    const auto& t = lab.topology();
    EXPECT_EQ(t.kind, "netns");
    EXPECT_EQ(t.server.address, "198.18.0.1");
    ASSERT_EQ(t.clients.size(), 2u);
    // Each client reaches the server through the bridge, from its own address.
    std::string srv = t.server.prefix.back();
    for (auto& c : t.clients) {
      std::string ns = c.prefix.back();
      EXPECT_EQ(sh("ip netns exec " + ns + " ip -4 addr show dev eth0 | grep -q " + c.address), 0);
      // A TCP connect to a closed port in the server namespace is refused
      // (RST came back), which proves the path both ways without a listener.
      int rc = sh("ip netns exec " + ns +
                  " timeout 5 bash -c 'exec 3<>/dev/tcp/198.18.0.1/9' 2>/dev/null");
      EXPECT_NE(rc, 0);
      EXPECT_EQ(sh("ip netns exec " + ns + " ip neigh show 198.18.0.1 | grep -qv FAILED"), 0) << ns;
    }
    (void)srv;
  }
  for (auto& n : names) EXPECT_FALSE(ns_exists(n)) << n << " left behind";
}

TEST_F(NetnsLabTest, LeftoversOfAKilledRunAreRemoved) {
  // A run killed with SIGKILL leaves namespaces named after its pid; the pid
  // of a child that has exited stands in for it.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  std::string name = std::string(NetnsLab::kPrefix) + std::to_string(child) + "-1-srv";
  ASSERT_EQ(sh("ip netns add " + name), 0);
  ASSERT_TRUE(ns_exists(name));
  EXPECT_GE(NetnsLab::cleanup_leftovers(), 1);
  EXPECT_FALSE(ns_exists(name));
}

TEST_F(NetnsLabTest, LinkDelayIsEmulatedByNetemOrTheDelayLine) {
  LinkSpec l = parse_link("delay=5ms");
  std::string why;
  std::string how = choose_link_emulation(l, IOMODELS_BINARY_DIR, &why);
  if (how.empty()) GTEST_SKIP() << why;  // neither sch_netem nor /dev/net/tun here
  NetnsLab lab(1, l, IOMODELS_BINARY_DIR, {}, {});
  EXPECT_EQ(lab.topology().link_emulation, how);
  EXPECT_EQ(lab.topology().to_json()["link_emulation"], how);
  std::string ns = lab.topology().clients[0].prefix.back();
  if (how == "netem") EXPECT_EQ(sh("ip netns exec " + ns + " tc qdisc show dev eth0 | grep -q 'delay 5ms'"), 0);
  else EXPECT_GT(lab.delayline_pid(), 0);
  // Whatever applies it, a round trip from the client to the server pays the
  // one-way delay twice (10 ms); the upper bound only catches a stuck link.
  for (int i = 0; i < 3; ++i) {
    double ms = refused_connect_ms(ns, lab.topology().server.address);
    EXPECT_GE(ms, 10.0) << "round " << i;
    EXPECT_LE(ms, 10.0 + 2000) << "round " << i;
  }
}

TEST_F(NetnsLabTest, ALinkNoEmulatorCanApplyIsRefusedNamingWhy) {
  LinkSpec l = parse_link("delay=5ms,loss=1%,rate=100mbit");
  std::string why;
  if (netem_available()) GTEST_SKIP() << "this kernel has sch_netem, which emulates rate";
  EXPECT_EQ(choose_link_emulation(l, IOMODELS_BINARY_DIR, &why), "");
  EXPECT_NE(why.find("netem"), std::string::npos) << why;
  EXPECT_NE(why.find("not rate"), std::string::npos) << why;
  // Loss and jitter the delay line does emulate (when it can run here).
  if (::access("/dev/net/tun", R_OK | W_OK) == 0) {
    std::string none;
    EXPECT_EQ(choose_link_emulation(parse_link("delay=5ms,jitter=1ms,distribution=normal,loss=1%"),
                                    IOMODELS_BINARY_DIR, &none), "delayline") << none;
    EXPECT_EQ(choose_link_emulation(parse_link("delay=5ms,jitter=1ms,distribution=pareto"), IOMODELS_BINARY_DIR,
                                    &why), "");
    EXPECT_NE(why.find("pareto"), std::string::npos) << why;
  }
  try {
    NetnsLab lab(1, l, IOMODELS_BINARY_DIR, {}, {});
    ADD_FAILURE() << "lab built with a link nothing emulates";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("netem"), std::string::npos) << e.what();
  }
  // No delay line where the lab looks for it: refused too, naming the path.
  EXPECT_EQ(choose_link_emulation(parse_link("delay=5ms"), "/nonexistent", &why), "");
  EXPECT_NE(why.find("/nonexistent/delayline"), std::string::npos) << why;
}
