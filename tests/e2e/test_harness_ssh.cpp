// The hosts topology over real ssh: OpenSSH's sshd (Debian's openssh-server)
// runs in two client namespaces made for the test, with a host key and a user
// key generated for it; the harness reaches them through `ssh` as a real
// multi-host run would, and a two-client case goes through the barrier, the
// merge, both source addresses and the server's samples. The server stays in
// a namespace of its own reached with `ip netns exec` (the harness samples the
// server's CPU clock, so it must share the pid space), and the ssh client runs
// in that namespace, since nothing here touches the root namespace's links.
//
//   iomns-P-ssh-srv  198.18.0.1/16 on br0   server; runs `ssh`
//     |- veth -> iomns-P-ssh-h1  198.18.1.1  sshd, loadgen 1
//     '- veth -> iomns-P-ssh-h2  198.18.1.2  sshd, loadgen 2
//
// The namespaces are named like the netns lab's (iomns-<pid>-...), so if the
// test is killed the next lab removes them; sshd gets PR_SET_PDEATHSIG and dies
// with the test. Skipped only without root; a missing sshd is a failure
// (./run_all.sh installs openssh-server).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_harness_util.h"

using namespace iomodels::test::harness;
using nlohmann::json;

namespace {

class HarnessOverSsh : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the ssh test needs root (network namespaces, sshd)";
    ASSERT_TRUE(file_exists("/usr/sbin/sshd")) << "no /usr/sbin/sshd: install openssh-server (run_all.sh does)";
    ASSERT_TRUE(file_exists("/usr/bin/ssh")) << "no /usr/bin/ssh: install openssh-client";
    dir_ = make_temp_dir();
    ASSERT_FALSE(dir_.empty());
    ns_ = "iomns-" + std::to_string(::getpid()) + "-ssh-";
    made_ = true;
    must("ip netns add " + ns_ + "srv && ip -n " + ns_ + "srv link set lo up && ip -n " + ns_ +
         "srv link add br0 type bridge && ip -n " + ns_ + "srv addr add 198.18.0.1/16 dev br0 && ip -n " + ns_ +
         "srv link set br0 up");
    for (int i : {1, 2}) {
      const std::string h = ns_ + "h" + std::to_string(i), port = "p" + std::to_string(i);
      must("ip netns add " + h + " && ip -n " + h + " link set lo up && ip link add eth0 netns " + h +
           " type veth peer name " + port + " netns " + ns_ + "srv && ip -n " + ns_ + "srv link set " + port +
           " master br0 up && ip -n " + h + " addr add 198.18.1." + std::to_string(i) + "/16 dev eth0 && ip -n " +
           h + " link set eth0 up");
    }
    // A user key for the client, a host key for both daemons; known_hosts
    // names the host key, so the client checks it strictly.
    must("ssh-keygen -q -t ed25519 -N '' -C iomodels-test -f " + dir_ + "/id && ssh-keygen -q -t ed25519 -N '' -f " +
         dir_ + "/host_key && cp " + dir_ + "/id.pub " + dir_ + "/authorized_keys && mkdir -p /run/sshd");
    std::string host_pub = read_file(dir_ + "/host_key.pub");
    write_file(dir_ + "/known_hosts", "198.18.1.1 " + host_pub + "198.18.1.2 " + host_pub);
    std::string cfg;
    for (int i : {1, 2})
      cfg += "Host h" + std::to_string(i) + "\n  HostName 198.18.1." + std::to_string(i) + "\n  User root\n  IdentityFile " +
             dir_ + "/id\n  IdentitiesOnly yes\n  UserKnownHostsFile " + dir_ + "/known_hosts\n"
             "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 10\n";
    write_file(dir_ + "/ssh_config", cfg);
    for (int i : {1, 2}) start_sshd(i);
  }

  void TearDown() override {
    for (pid_t p : sshd_) {
      ::kill(p, SIGTERM);
      int st = 0;
      for (int k = 0; k < 100 && ::waitpid(p, &st, WNOHANG) == 0; ++k) ::usleep(20'000);
      if (::waitpid(p, &st, WNOHANG) == 0) {
        ::kill(p, SIGKILL);
        ::waitpid(p, &st, 0);
      }
    }
    if (made_)
      for (const char* n : {"h1", "h2", "srv"}) run_cmd("ip netns del " + ns_ + n + " 2>/dev/null", 10);
    if (!dir_.empty()) run_cmd("rm -rf " + dir_, 10);
  }

  void must(const std::string& cmd) {
    CmdResult r = run_cmd("sh -c \"" + cmd + "\" 2>&1", 30);
    ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.output;
  }

  // sshd -D (no daemon: we hold its pid) -e (log to stderr, a file here),
  // listening only on the host's address, keys and settings from the test.
  void start_sshd(int i) {
    const std::string n = std::to_string(i), cfg = dir_ + "/sshd_config_h" + n;
    write_file(cfg, "ListenAddress 198.18.1." + n + "\nHostKey " + dir_ + "/host_key\nAuthorizedKeysFile " + dir_ +
                        "/authorized_keys\nPidFile " + dir_ + "/sshd_h" + n + ".pid\nPermitRootLogin prohibit-password\n"
                        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                        "PrintMotd no\n");
    const std::string log = dir_ + "/sshd_h" + n + ".log";
    const std::string netns = ns_ + "h" + n;
    pid_t p = ::fork();
    ASSERT_GE(p, 0);
    if (p == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test, whatever ends it
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      ::execlp("ip", "ip", "netns", "exec", netns.c_str(), "/usr/sbin/sshd", "-D", "-e", "-f", cfg.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    sshd_.push_back(p);
    // Ready when a client gets through (bounded: 50 tries, 100 ms apart).
    for (int k = 0; k < 50; ++k) {
      if (run_cmd(ssh("h" + n) + " true 2>/dev/null", 15).exit_code == 0) return;
      ::usleep(100'000);
    }
    FAIL() << "sshd in " << netns << " never accepted us: " << read_file(log);
  }

  std::string ssh(const std::string& host) const {
    return "ip netns exec " + ns_ + "srv ssh -F " + dir_ + "/ssh_config " + host;
  }

  std::string dir_, ns_;
  bool made_ = false;
  std::vector<pid_t> sshd_;
};

TEST_F(HarnessOverSsh, TwoClientsOverSshAreBarrieredMergedAndBothServed) {
  // The hosts file, as docs/multihost.md shows it (with this run's pid and paths).
  json hosts = {{"server", {{"name", "srv"}, {"transport", "ip netns exec " + ns_ + "srv"}, {"address", "198.18.0.1"},
                            {"bin_dir", kBin}}},
                {"clients", json::array()}};
  for (const char* h : {"h1", "h2"})
    hosts["clients"].push_back({{"name", h}, {"transport", ssh(h)}, {"bin_dir", kBin},
                                {"address", std::string("198.18.1.") + (h[1] == '1' ? "1" : "2")}});
  write_file(dir_ + "/hosts.json", hosts.dump(2) + "\n");
  std::printf("hosts file used:\n%s\n", hosts.dump(2).c_str());
  write_file(dir_ + "/suite.json", R"({"name": "ssh", "repetitions": 1, "servers": ["epoll_lt"],
      "defaults": {"protocol": "echo", "size": 64, "duration": 1.0, "warmup": 0.2},
      "groups": [{"name": "c", "connections": 8}]})");
  CmdResult r = run_cmd(kHarness + " run --progress off --no-micro --calibration-ms 0 --bin-dir " + kBin +
                            " --suite " + dir_ + "/suite.json --out " + dir_ + "/out --topology hosts:" + dir_ +
                            "/hosts.json",
                        120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(validate_run_json(dir_ + "/out/run.json"), "");
  json run = json::parse(read_file(dir_ + "/out/run.json"));
  EXPECT_EQ(run["context"]["topology"], "hosts");
  EXPECT_EQ(run["context"]["address_family"], "ipv4");
  // Each host described through its transport: over ssh, a real kernel line.
  ASSERT_EQ(run["context"]["hosts"].size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    const std::string kernel = run["context"]["hosts"][i]["kernel"];
    EXPECT_EQ(kernel.rfind("Linux ", 0), 0u) << run["context"]["hosts"][i];
    EXPECT_FALSE(run["context"]["hosts"][i]["cpu_model"].get<std::string>().empty()) << run["context"]["hosts"][i];
  }
  const json& c = run["cases"][0];
  ASSERT_EQ(c["status"], "ok") << c["reason"] << "\n" << r.output;
  const json& rep = c["repetitions"][0];
  ASSERT_EQ(rep["clients"].size(), 2u);
  double sum = 0, hist = 0;
  uint64_t last_start = 0, first_end = UINT64_MAX;
  std::set<std::string> addresses;
  for (const auto& part : rep["clients"]) {
    // Each client namespace owns one address: requests answered there were
    // served from that source address.
    EXPECT_GT(part["requests"].get<double>(), 0) << part;
    EXPECT_EQ(part["connections"], 4);
    sum += part["requests"].get<double>();
    hist += part["histogram_count"].get<double>();
    addresses.insert(part["address"].get<std::string>());
    last_start = std::max(last_start, part["window"]["start_ns"].get<uint64_t>());
    first_end = std::min(first_end, part["window"]["end_ns"].get<uint64_t>());
  }
  EXPECT_EQ(addresses, (std::set<std::string>{"198.18.1.1", "198.18.1.2"}));
  // The barrier: both measured windows overlap (one host, one monotonic clock),
  // and the case's window is their common part.
  EXPECT_LT(last_start, first_end);
  EXPECT_EQ(rep["window"]["source"], "loadgens_common");
  // The merge: the case's totals are the two hosts' sums.
  const json& lg = rep["loadgen"];
  EXPECT_EQ(lg["summary"]["requests"].get<double>(), sum);
  EXPECT_EQ(lg["histogram"]["count"].get<double>(), hist);
  // The server's samples: its counters and CPU over the window.
  EXPECT_EQ(rep["server_stats"]["counters"]["accepted"], 8) << rep["server_stats"];
  EXPECT_GT(rep["server_cpu"]["cpu_ns"].get<double>(), 0);
  EXPECT_FALSE(rep["server_stats_window"].is_null());
  // And it really went through sshd, from the server's namespace, with our key.
  for (const char* n : {"1", "2"}) {
    std::string log = read_file(dir_ + "/sshd_h" + n + ".log");
    EXPECT_NE(log.find("Accepted publickey for root from 198.18.0.1"), std::string::npos) << log;
  }
}

}  // namespace
