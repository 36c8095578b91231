// The run's setup around run_suite (runner.cpp): option checks, the shared
// case environment, the topology, run.json's header, the results folder
// name, the micro-benchmark step.
#include "harness/run/run_setup.h"

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
#include "harness/cost/kernel_syscalls.h"
#include "harness/remote/topology.h"
#include "harness/run/process.h"
#include "harness/run/results.h"
#include "harness/run/runner.h"

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


std::vector<std::string> pick_servers(const std::vector<std::string>& suite_servers,
                                      const std::vector<std::string>& wanted) {
  if (wanted.empty()) return suite_servers;
  const auto& known = known_servers();
  for (const auto& s : wanted)
    if (std::find(known.begin(), known.end(), s) == known.end()) throw SuiteError("--servers: unknown server '" + s + "'");
  std::vector<std::string> picked;
  for (const auto& s : suite_servers)
    if (std::find(wanted.begin(), wanted.end(), s) != wanted.end()) picked.push_back(s);
  return picked;
}

CaseEnv run_case_env(const RunOptions& opt, const std::string& loadgen, std::string* server_cpus,
                     std::string* loadgen_cpus) {
  const auto allowed = allowed_cpus();
  *server_cpus = opt.server_cpus, *loadgen_cpus = opt.loadgen_cpus;
  if (server_cpus->empty()) *server_cpus = allowed.size() >= 2 ? std::to_string(allowed[0]) : join_cpus(allowed);
  if (loadgen_cpus->empty()) *loadgen_cpus = allowed.size() >= 2 ? std::to_string(allowed[1]) : join_cpus(allowed);
  CaseEnv env;
  env.server_cpus = checked_cpus(*server_cpus, "--server-cpus");
  env.loadgen_cpus = checked_cpus(*loadgen_cpus, "--loadgen-cpus");
  env.loadgen_path = loadgen;
  env.start_timeout_ms = opt.start_timeout_ms;
  env.stop_timeout_ms = opt.stop_timeout_ms;
  env.calibration_ms = opt.calibration_ms;
  // Feature checks, so that an older loadgen or server (harness ab builds
  // old revisions) still runs: without --notify-fd the harness times the
  // window itself; a server without snapshots would die of SIGUSR1.
  env.loadgen_notify = help_mentions(loadgen, "--notify-fd");
  // Kernel-counted syscalls per round (--count-syscalls auto: where the
  // kernel lets us; on: also where it does not, said per round; off: never).
  // Decided once: the first counter registers 360 tracepoints (seconds).
  env.syscalls_unavailable = opt.count_syscalls == "off" ? "" : cost::kernel_syscalls_unavailable();
  env.count_syscalls = opt.count_syscalls == "every";
  return env;
}

RunTopology open_topology(const RunOptions& opt, const std::string& bin_dir, CaseEnv& env,
                          const std::string& loadgen_cpus) {
  RunTopology t;
  if (opt.topology == "netns") {
    set_fatal_signal_hook(&NetnsLab::remove_all_registered);
    t.lab = std::make_unique<NetnsLab>(opt.clients, parse_link(opt.link), bin_dir, env.server_cpus,
                                       env.loadgen_cpus, env.log_dir, opt.family == "ipv6" ? AF_INET6 : AF_INET);
    t.topo = t.lab->topology();
    if (t.topo.link_emulation == "delayline")
      std::cerr << "harness: --link " << opt.link << ": no sch_netem in this kernel, so the userspace delay line "
                << "emulates it (pid " << t.lab->delayline_pid() << ", CPUs " << loadgen_cpus
                << ", counters in " << env.log_dir << "/delayline.log)\n";
  } else if (opt.topology.rfind("hosts:", 0) == 0) {
    t.topo = load_hosts_file(opt.topology.substr(6));
  } else if (opt.family == "ipv6") {
    env.server_bind = "::1";
  }
  if (t.topo.remote() && !help_mentions(env.loadgen_path, "--start-barrier"))
    throw std::runtime_error(env.loadgen_path + " has no --start-barrier: a remote topology needs a newer loadgen");
  return t;
}

nlohmann::json run_header(const RunOptions& opt, const Suite& suite, const Topology& topo, const CaseEnv& env,
                          const std::string& server_cpus, const std::string& loadgen_cpus, const PriorRun& prior) {
  nlohmann::json run;
  run["schema"] = "iomodels.run/2";
  run["context"] = build_context(server_cpus, loadgen_cpus);
  run["context"]["topology"] = topo.kind;
  // What the clients connect over: the family of the address the server listens on.
  run["context"]["address_family"] = topo.remote() ? address_family(topo.server.address) : opt.family;
  run["context"]["kernel_syscalls"] = {
      {"counted", opt.count_syscalls != "off" && env.syscalls_unavailable.empty()},
      {"rounds", opt.count_syscalls == "every" ? "every timed round (the counters' cost is in the CPU figures)"
                                                : "a round of their own per case of groups with count_syscalls"},
      {"source", "perf_event_open on every syscalls:sys_enter_* tracepoint, per server thread (inherited)"},
      {"reason", opt.count_syscalls == "off" ? "--count-syscalls off" : env.syscalls_unavailable}};
  run["context"]["link"] = opt.link.empty() ? nlohmann::json(nullptr) : nlohmann::json(opt.link);
  run["context"]["link_params"] = topo.link.to_json();
  run["context"]["link_emulation"] =
      topo.link_emulation.empty() ? nlohmann::json(nullptr) : nlohmann::json(topo.link_emulation);
  if (topo.remote()) run["context"]["hosts"] = describe_hosts(topo);
  run["suite"] = {{"name", suite.name}, {"file", suite.file}, {"repetitions", suite.repetitions}};
  if (!suite.description.empty()) run["suite"]["description"] = suite.description;
  RunOptions saved = opt;
  saved.suite_path = fs::absolute(opt.suite_path).string();
  run["run_options"] = saved_run_options(saved);
  if (opt.resume) {
    nlohmann::json resumed = prior.run.value("resumed", nlohmann::json::array());
    resumed.push_back({{"date", run["context"]["date"]}, {"steps_done_before", prior.steps_done},
                       {"interrupted_by", prior.run["progress"].value("interrupted_by", "")}});
    run["context"] = prior.run["context"];
    run["resumed"] = resumed;
  }
  return run;
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
