#include "harness/cost/probe.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <fstream>
#include <memory>
#include <sstream>

#include "harness/cost/kernel_syscalls.h"
#include "harness/run/process.h"
#include "harness/run/run_case.h"

namespace iomodels::harness::cost {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string scratch_dir(const CostProbe& p) {
  if (!p.log_dir.empty()) {
    fs::create_directories(p.log_dir);
    return p.log_dir;
  }
  static const std::string dir = [] {
    std::string t = (fs::temp_directory_path() / "iomodels-cost-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    return t;
  }();
  return dir;
}

// One run of the server at one request count. `wrapper` goes before the
// server's argv (valgrind). `on_listening` runs once the server listens,
// `before_stop` once the loadgen is done and before SIGTERM.
struct OneRun {
  uint64_t messages = 0;
  std::string error;
};

template <typename OnListening, typename BeforeStop>
OneRun run_at(const CostProbe& p, uint64_t requests, const std::vector<std::string>& wrapper, const std::string& tag,
              OnListening on_listening, BeforeStop before_stop) {
  OneRun out;
  const std::string dir = scratch_dir(p);
  const std::string base = fs::path(p.server_path).filename().string() + "." + tag;
  const std::string stats = dir + "/" + base + ".stats.json";
  const std::string lg_out = dir + "/" + base + ".loadgen.json";
  const std::string server_log = dir + "/" + base + ".log";
  ::unlink(stats.c_str());
  ::unlink(lg_out.c_str());
  CaseParams cp;
  cp.protocol = p.protocol;
  std::vector<std::string> argv;
  if (!p.server_env.empty()) {
    argv.push_back(resolve_executable("env"));
    argv.insert(argv.end(), p.server_env.begin(), p.server_env.end());
  }
  argv.insert(argv.end(), wrapper.begin(), wrapper.end());
  auto sa = server_argv(p.server_path, cp, stats, p.server_args);
  argv.insert(argv.end(), sa.begin(), sa.end());
  std::string target, why;
  auto srv = start_server(argv, p.server_cpus, server_log, p.start_timeout_ms, &target, &why);
  if (!srv) {
    out.error = why;
    return out;
  }
  on_listening(srv->pid());
  SpawnOptions lo;
  lo.argv = {p.loadgen_path, "--target", target, "--protocol", p.protocol, "--connections",
             std::to_string(p.connections), "--size", p.size, "--requests", std::to_string(requests),
             "--duration", "0", "--warmup", "0", "--timeout", "60", "--output", lg_out, "--progress", "off"};
  lo.cpus = p.loadgen_cpus;
  lo.stdout_to_null = true;
  lo.stderr_path = dir + "/loadgen.log";
  {
    Child lg(lo);
    // Under callgrind a message costs ~50x; 4000 of them stay well inside this.
    if (!lg.wait_exit(300'000)) {
      lg.kill_group();
      out.error = "loadgen did not finish " + std::to_string(requests) + " requests within 300 s";
      return out;
    }
    if (!WIFEXITED(lg.raw_status()) || WEXITSTATUS(lg.raw_status()) != 0) {
      out.error = "loadgen " + lg.describe_exit() + last_line(dir + "/loadgen.log");
      return out;
    }
  }
  before_stop();
  // valgrind flushes its profile on the way out: give it time.
  const std::string stop = stop_server(*srv, wrapper.empty() ? 2000 : 60000, server_log);
  if (!stop.empty()) {
    out.error = "server " + stop;
    return out;
  }
  // The server's own count of messages answered, else the loadgen's.
  auto s = read_json(stats);
  if (s && s->contains("counters") && (*s)["counters"].contains("messages"))
    out.messages = (*s)["counters"]["messages"].get<uint64_t>();
  else if (s && s->contains("messages"))
    out.messages = (*s)["messages"].get<uint64_t>();
  if (out.messages == 0) {
    auto lg = read_json(lg_out);
    if (lg) out.messages = static_cast<uint64_t>((*lg)["summary"].value("requests", 0.0));
  }
  if (out.messages == 0) out.error = "no message answered";
  return out;
}

// callgrind's "totals:" (or "summary:") line: instructions executed.
uint64_t callgrind_total(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  uint64_t total = 0;
  while (std::getline(in, line)) {
    if (line.rfind("totals:", 0) == 0 || line.rfind("summary:", 0) == 0) {
      std::istringstream f(line.substr(line.find(':') + 1));
      uint64_t v = 0;
      if (f >> v) total = v;
    }
  }
  return total;
}

// valgrind 3.19 does not know epoll_pwait2 (syscall 441) and fails it with
// ENOSYS; a server that has no fallback would then stop working. Said, not hidden.
std::string valgrind_complaint(const std::string& log) {
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.find("unhandled") != std::string::npos && line.find("syscall") != std::string::npos)
      return " (valgrind: " + line + ")";
  return "";
}

}  // namespace

std::string probe_key(const CostProbe& p) {
  std::string k = p.protocol + "/c" + std::to_string(p.connections);
  if (p.protocol != "http") k += "/s" + p.size;
  return k;
}

std::string valgrind_unavailable() {
  if (resolve_executable("valgrind").find('/') == std::string::npos)
    return "valgrind not found on PATH (install the valgrind package)";
  return "";
}

json CallgrindResult::to_json() const {
  if (!error.empty()) return {{"error", error}};
  return {{"instructions_per_message", instructions_per_message},
          {"ir", {ir_low, ir_high}},
          {"messages", {messages_low, messages_high}}};
}

json SyscallResult::to_json() const {
  if (!error.empty()) return {{"error", error}};
  return {{"per_message", per_message}, {"total_per_message", total_per_message},
          {"messages", {messages_low, messages_high}}};
}

CallgrindResult callgrind_per_message(const CostProbe& p) {
  CallgrindResult r;
  if (auto why = valgrind_unavailable(); !why.empty()) {
    r.error = why;
    return r;
  }
  const std::string dir = scratch_dir(p);
  uint64_t ir[2] = {0, 0}, msgs[2] = {0, 0};
  const uint64_t counts[2] = {p.requests_low, p.requests_high};
  for (int i = 0; i < 2; ++i) {
    const std::string tag = probe_key(p) + "." + std::to_string(counts[i]);
    std::string tag_file = tag;
    for (char& c : tag_file)
      if (c == '/') c = '_';
    const std::string out = dir + "/" + fs::path(p.server_path).filename().string() + "." + tag_file + ".callgrind";
    const std::string vlog = out + ".valgrind.log";
    ::unlink(out.c_str());
    std::vector<std::string> wrapper = {resolve_executable("valgrind"), "--tool=callgrind", "--callgrind-out-file=" + out,
                                        "--log-file=" + vlog, "--dump-line=no", "--compress-strings=no"};
    OneRun one = run_at(p, counts[i], wrapper, tag_file, [](pid_t) {}, [] {});
    if (!one.error.empty()) {
      r.error = one.error + valgrind_complaint(vlog);
      return r;
    }
    ir[i] = callgrind_total(out);
    msgs[i] = one.messages;
    if (ir[i] == 0) {
      r.error = "no callgrind totals in " + out + valgrind_complaint(vlog);
      return r;
    }
  }
  r.ir_low = ir[0];
  r.ir_high = ir[1];
  r.messages_low = msgs[0];
  r.messages_high = msgs[1];
  if (msgs[1] <= msgs[0] || ir[1] <= ir[0]) {
    r.error = "the longer run did not cost more (messages " + std::to_string(msgs[0]) + " -> " +
              std::to_string(msgs[1]) + ", Ir " + std::to_string(ir[0]) + " -> " + std::to_string(ir[1]) + ")";
    return r;
  }
  r.instructions_per_message = static_cast<double>(ir[1] - ir[0]) / static_cast<double>(msgs[1] - msgs[0]);
  return r;
}

SyscallResult kernel_syscalls_per_message(const CostProbe& p) {
  SyscallResult r;
  if (auto why = kernel_syscalls_unavailable(); !why.empty()) {
    r.error = why;
    return r;
  }
  SyscallCounts counts[2];
  uint64_t msgs[2] = {0, 0};
  const uint64_t n[2] = {p.requests_low, p.requests_high};
  for (int i = 0; i < 2; ++i) {
    std::unique_ptr<KernelSyscallCounter> counter;
    std::string attach_error;
    OneRun one = run_at(
        p, n[i], {}, "syscalls." + std::to_string(n[i]),
        [&](pid_t pid) {
          try {
            counter = std::make_unique<KernelSyscallCounter>(pid);
          } catch (const std::exception& e) {
            attach_error = e.what();
          }
        },
        [&] {
          if (counter) counts[i] = counter->read();
        });
    if (!attach_error.empty()) one.error = attach_error;
    if (!one.error.empty()) {
      r.error = one.error;
      return r;
    }
    msgs[i] = one.messages;
  }
  r.messages_low = msgs[0];
  r.messages_high = msgs[1];
  if (msgs[1] <= msgs[0]) {
    r.error = "the longer run answered no more messages";
    return r;
  }
  const double dm = static_cast<double>(msgs[1] - msgs[0]);
  for (const auto& [name, hi] : counts[1]) {
    auto it = counts[0].find(name);
    const double lo = it == counts[0].end() ? 0 : static_cast<double>(it->second);
    const double d = (static_cast<double>(hi) - lo) / dm;
    if (d > 0.0005) r.per_message[name] = d;
  }
  for (const auto& [name, v] : r.per_message) r.total_per_message += v;
  return r;
}

}  // namespace iomodels::harness::cost
