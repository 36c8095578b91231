#include "harness/run/proc_sample.h"

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/clock.h"

namespace iomodels::harness {
namespace {

// An exited thread that ran less than this inside the window and was not
// alive at its start goes unnoticed; its switches are then missing, which
// for so little CPU is a handful.
constexpr int64_t kExitedToleranceNs = 500'000;

void add_switches(const std::string& status_path, CpuSample& s) {
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
      s.voluntary_ctxt_switches += std::stoll(line.substr(line.find(':') + 1));
    else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
      s.involuntary_ctxt_switches += std::stoll(line.substr(line.find(':') + 1));
  }
}

// First field of schedstat: the task's run time in ns (se.sum_exec_runtime,
// the same counter the process CPU clock sums, so the two agree).
uint64_t task_run_ns(const std::string& schedstat_path) {
  std::ifstream in(schedstat_path);
  unsigned long long ns = 0;
  in >> ns;
  return ns;
}

std::optional<uint64_t> process_clock_ns(clockid_t clock) {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return std::nullopt;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

bool read_ticks(const std::string& base, CpuSample& s) {
  std::ifstream stat(base + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  // The command name is in parentheses and may hold spaces: fields count from
  // after the last ')'. utime and stime are fields 14 and 15 and, read from the
  // process (not a task), include threads that already exited.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  s.user_s = static_cast<double>(utime) / ticks;
  s.sys_s = static_cast<double>(stime) / ticks;
  return true;
}

}  // namespace

std::optional<CpuSample> sample_cpu(pid_t pid) {
  clockid_t clock{};
  if (::clock_getcpuclockid(pid, &clock) != 0) return std::nullopt;
  const std::string base = "/proc/" + std::to_string(pid);
  CpuSample s;
  s.taken_ns = now_ns();
  auto before = process_clock_ns(clock);
  if (!before || !read_ticks(base, s)) return std::nullopt;
  uint64_t live_ns = 0;
  if (DIR* d = ::opendir((base + "/task").c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      const std::string task = base + "/task/" + e->d_name;
      s.tids.insert(std::atoi(e->d_name));
      add_switches(task + "/status", s);
      live_ns += task_run_ns(task + "/schedstat");
    }
    ::closedir(d);
  }
  auto after = process_clock_ns(clock);
  if (!after) return std::nullopt;
  s.cpu_ns = *before;
  s.exited_lo_ns = static_cast<int64_t>(*before) - static_cast<int64_t>(live_ns);
  s.exited_hi_ns = static_cast<int64_t>(*after) - static_cast<int64_t>(live_ns);
  return s;
}

CpuWindow cpu_window(const CpuSample& a, const CpuSample& b) {
  CpuWindow w;
  w.span_ns = b.taken_ns > a.taken_ns ? b.taken_ns - a.taken_ns : 0;
  w.cpu_ns = b.cpu_ns > a.cpu_ns ? b.cpu_ns - a.cpu_ns : 0;
  w.user_s = b.user_s - a.user_s;
  w.sys_s = b.sys_s - a.sys_s;
  w.threads_start = a.tids.size();
  w.threads_end = b.tids.size();
  for (int t : a.tids)
    if (!b.tids.count(t)) w.threads_exited = true;
  if (b.exited_lo_ns - a.exited_hi_ns > kExitedToleranceNs) w.threads_exited = true;
  w.voluntary_ctxt_switches = b.voluntary_ctxt_switches - a.voluntary_ctxt_switches;
  w.involuntary_ctxt_switches = b.involuntary_ctxt_switches - a.involuntary_ctxt_switches;
  return w;
}

nlohmann::json server_cpu_json(const CpuWindow& w, double requests) {
  const double per = requests > 0 ? 1.0 / requests : 0.0;
  const double cpu_ns = static_cast<double>(w.cpu_ns);
  nlohmann::json j = {{"cpu_ns", w.cpu_ns},
                      {"window_s", static_cast<double>(w.span_ns) / 1e9},
                      {"ns_per_request", cpu_ns * per},
                      {"us_per_request", cpu_ns / 1e3 * per},
                      {"user_s", w.user_s},
                      {"sys_s", w.sys_s},
                      // The old figure, kept so that the two can be compared.
                      {"tick_us_per_request", (w.user_s + w.sys_s) * 1e6 * per},
                      {"threads", {{"start", w.threads_start}, {"end", w.threads_end},
                                   {"exited", w.threads_exited}}}};
  if (w.threads_exited) {
    j["voluntary_ctxt_switches"] = nullptr;
    j["involuntary_ctxt_switches"] = nullptr;
  } else {
    j["voluntary_ctxt_switches"] = w.voluntary_ctxt_switches;
    j["involuntary_ctxt_switches"] = w.involuntary_ctxt_switches;
  }
  return j;
}

}  // namespace iomodels::harness
