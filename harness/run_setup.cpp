// The run's setup around run_suite (runner.cpp): option checks, the results
// folder name, the micro-benchmark step.
#include "harness/run_setup.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/socket_util.h"
#include "harness/process.h"
#include "harness/runner.h"
#include "harness/topology.h"

namespace iomodels::harness {

namespace fs = std::filesystem;

bool is_executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string join_cpus(const std::vector<int>& cpus) {
  std::string s;
  for (int c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

std::vector<int> checked_cpus(const std::string& text, const char* option) {
  std::vector<int> cpus = parse_cpu_list(text);
  auto allowed = allowed_cpus();
  for (int c : cpus)
    if (std::find(allowed.begin(), allowed.end(), c) == allowed.end())
      throw std::runtime_error(std::string(option) + ": CPU " + std::to_string(c) +
                               " is not available to this process (allowed: " + join_cpus(allowed) + ")");
  return cpus;
}

std::string default_out_dir(const std::string& suite) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return "results/" + std::string(buf) + "-" + suite;
}

void check_topology(const RunOptions& opt) {
  const std::string& t = opt.topology;
  if (t != "loopback" && t != "netns" && t.rfind("hosts:", 0) != 0)
    throw std::invalid_argument("--topology: '" + t + "' is not loopback, netns or hosts:FILE");
  if (!opt.link.empty() && t != "netns")
    throw std::invalid_argument("--link: only with --topology netns (other links are real)");
  if (opt.clients < 1 || opt.clients > 64) throw std::invalid_argument("--clients: must be 1..64");
  if (opt.family != "ipv4" && opt.family != "ipv6")
    throw std::invalid_argument("--family: '" + opt.family + "' is not ipv4 or ipv6");
  if (opt.family != "ipv4" && t.rfind("hosts:", 0) == 0)
    throw std::invalid_argument("--family: a hosts file sets the family by its server.address");
  if (t == "netns") {
    std::string why;
    if (!netns_supported(&why)) throw std::invalid_argument("--topology netns: " + why);
    LinkSpec l = parse_link(opt.link);
    std::string emulation;
    if (!l.empty() && (emulation = choose_link_emulation(l, opt.bin_dir.empty() ? self_dir() : opt.bin_dir, &why)).empty())
      throw std::invalid_argument(why);
    if (emulation == "delayline" && opt.family == "ipv6")
      throw std::invalid_argument("--link with --family ipv6 needs tc netem: the userspace delay line is IPv4 only");
  }
  if (t.rfind("hosts:", 0) == 0) load_hosts_file(t.substr(6));
}

std::string self_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "." : exe.parent_path().string();
}


bool run_micro(const MicroOptions& opt) {
  const std::string bin_dir = opt.bin_dir.empty() ? self_dir() : opt.bin_dir;
  const std::string exe = bin_dir + "/iomodels_micro";
  if (!is_executable(exe)) {
    std::cerr << "harness micro: skipped, no executable " << exe << " (build target iomodels_micro)\n";
    return false;
  }
  fs::create_directories(opt.out_dir);
  const std::string out = opt.out_dir + "/micro.json";
  const std::string tmp = out + ".part";
  SpawnOptions so;
  so.argv = {exe, "--benchmark_format=console", "--benchmark_out_format=json", "--benchmark_out=" + tmp};
  if (!opt.min_time.empty()) so.argv.push_back("--benchmark_min_time=" + opt.min_time);
  if (!opt.filter.empty()) so.argv.push_back("--benchmark_filter=" + opt.filter);
  if (!opt.cpus.empty()) so.cpus = checked_cpus(opt.cpus, "--cpus");
  Child c(so);
  c.wait_exit(24 * 3600 * 1000);
  if (!WIFEXITED(c.raw_status()) || WEXITSTATUS(c.raw_status()) != 0) {
    std::cerr << "harness micro: " << exe << " " << c.describe_exit() << "\n";
    return false;
  }
  publish_file_atomic(tmp, out);
  std::cerr << "harness micro: wrote " << out << "\n";
  return true;
}

}  // namespace iomodels::harness
