#include "harness/cost/kernel_syscalls.h"

#include <dirent.h>
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <system_error>

namespace iomodels::harness::cost {
namespace {

using nlohmann::json;

constexpr const char* kTracefs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The folder of the syscall tracepoints, mounting tracefs where it is not
// (perf(1) does the same); "" if there is none.
std::string syscall_events_dir() {
  for (const char* t : kTracefs)
    if (is_dir(std::string(t) + "/events/syscalls")) return std::string(t) + "/events/syscalls";
  if (is_dir(kTracefs[0]) && ::mount("nodev", kTracefs[0], "tracefs", 0, nullptr) == 0 &&
      is_dir(std::string(kTracefs[0]) + "/events/syscalls"))
    return std::string(kTracefs[0]) + "/events/syscalls";
  return "";
}

struct Tracepoint {
  std::string name;  // the syscall: "read", "epoll_wait"
  uint64_t id;
};

std::vector<Tracepoint> syscall_tracepoints() {
  std::vector<Tracepoint> out;
  const std::string dir = syscall_events_dir();
  if (dir.empty()) return out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind("sys_enter_", 0) != 0) continue;
    std::ifstream in(dir + "/" + n + "/id");
    uint64_t id = 0;
    if (in >> id) out.push_back({n.substr(10), id});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Tracepoint& a, const Tracepoint& b) { return a.name < b.name; });
  return out;
}

int open_counter(uint64_t tracepoint_id, pid_t tid) {
  perf_event_attr a{};
  a.size = sizeof a;
  a.type = PERF_TYPE_TRACEPOINT;
  a.config = tracepoint_id;
  // Threads the server creates later (a thread per connection, glibc's AIO
  // helpers) are counted into the counter of the thread that created them.
  a.inherit = 1;
  return static_cast<int>(::syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
  ::closedir(d);
  return out;
}

std::string paranoid_level() {
  std::ifstream in("/proc/sys/kernel/perf_event_paranoid");
  std::string s;
  in >> s;
  return s.empty() ? "?" : s;
}

// Registering a tracepoint patches kernel text (a static key per tracepoint):
// about 17 ms each on this VM, so 360 of them cost 6 s to open and as much to
// close, per counter. Disabled events on this process, held until exit, keep
// every syscall tracepoint registered: later counters only add themselves to
// a live list. (While any is registered, every task takes the traced syscall
// entry; that is the price of counting at all, measured in docs/harness.md.)
void keep_tracepoints_registered(const std::vector<Tracepoint>& tps) {
  static std::once_flag once;
  std::call_once(once, [&] {
    for (const auto& t : tps) {
      perf_event_attr a{};
      a.size = sizeof a;
      a.type = PERF_TYPE_TRACEPOINT;
      a.config = t.id;
      a.disabled = 1;
      ::syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);  // kept open on purpose
    }
  });
}

}  // namespace

std::string kernel_syscalls_unavailable() {
  auto tps = syscall_tracepoints();
  if (tps.empty())
    return "no syscall tracepoints: tracefs is not mounted at /sys/kernel/tracing and could not be "
           "(needs root and CONFIG_FTRACE_SYSCALLS; package linux-perf gives perf(1) to try it by hand)";
  auto it = std::find_if(tps.begin(), tps.end(), [](const Tracepoint& t) { return t.name == "getppid"; });
  int fd = open_counter(it == tps.end() ? tps.front().id : it->id, ::getpid());
  if (fd < 0)
    return std::string("perf_event_open(syscalls:sys_enter_getppid): ") + std::strerror(errno) +
           " (kernel.perf_event_paranoid=" + paranoid_level() + "; tracepoints need root or CAP_PERFMON)";
  ::close(fd);
  return "";
}

KernelSyscallCounter::KernelSyscallCounter(pid_t pid) {
  auto tps = syscall_tracepoints();
  if (tps.empty()) throw std::system_error(ENOENT, std::generic_category(), "syscall tracepoints (tracefs)");
  keep_tracepoints_registered(tps);
  for (const auto& t : tps) names_.push_back(t.name);
  const auto tids = threads_of(pid);
  if (tids.empty()) throw std::system_error(ESRCH, std::generic_category(), "/proc/" + std::to_string(pid) + "/task");
  for (pid_t tid : tids) {
    size_t opened = 0;
    for (size_t i = 0; i < tps.size(); ++i) {
      int fd = open_counter(tps[i].id, tid);
      if (fd < 0) {
        // A thread that exited since the listing: nothing left to count.
        if (errno == ESRCH && opened == 0) break;
        int err = errno;
        for (auto& c : counters_) ::close(c.fd);
        counters_.clear();
        throw std::system_error(err, std::generic_category(), "perf_event_open(syscalls:sys_enter_" + tps[i].name + ")");
      }
      counters_.push_back({fd, i});
      ++opened;
    }
    if (opened) ++threads_;
  }
}

KernelSyscallCounter::~KernelSyscallCounter() {
  for (auto& c : counters_) ::close(c.fd);
}

SyscallCounts KernelSyscallCounter::read() const {
  SyscallCounts out;
  for (const auto& c : counters_) {
    uint64_t v = 0;
    if (::read(c.fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v) && v != 0) out[names_[c.name]] += v;
  }
  return out;
}

SyscallCounts minus(const SyscallCounts& end, const SyscallCounts& start) {
  SyscallCounts out;
  for (const auto& [name, n] : end) {
    auto it = start.find(name);
    uint64_t s = it == start.end() ? 0 : it->second;
    if (n > s) out[name] = n - s;
  }
  return out;
}

uint64_t total(const SyscallCounts& c) {
  uint64_t t = 0;
  for (const auto& [name, n] : c) t += n;
  return t;
}

std::string kernel_name_for(const std::string& s) {
  // x86-64 glibc: recv and send are recvfrom/sendto, sigwaitinfo and
  // sigtimedwait are rt_sigtimedwait, nanosleep is clock_nanosleep. The
  // library-level counters (aio_*, io_uring_submit, event_base_loop) carry
  // no syscall of their own: "" leaves them out of the cross-check.
  if (s == "recv") return "recvfrom";
  if (s == "send") return "sendto";
  if (s == "sigwaitinfo" || s == "sigtimedwait") return "rt_sigtimedwait";
  if (s == "nanosleep") return "clock_nanosleep";
  if (s.rfind("aio_", 0) == 0 || s == "io_uring_submit" || s == "event_base_loop") return "";
  return s;
}

json syscalls_record(const SyscallCounts& window, double messages, const json& server_counters) {
  json r;
  json by_name = json::object(), per = json::object();
  for (const auto& [name, n] : window) {
    by_name[name] = n;
    if (messages > 0) per[name] = static_cast<double>(n) / messages;
  }
  const uint64_t t = total(window);
  r["by_name"] = by_name;
  r["total"] = t;
  r["messages"] = messages;
  r["per_message"] = per;
  r["total_per_message"] = messages > 0 ? json(static_cast<double>(t) / messages) : json(nullptr);
  if (!server_counters.is_object()) {
    r["cross_check"] = nullptr;
    r["server_unseen"] = nullptr;
    return r;
  }
  // The server's counts, summed under the kernel's names.
  std::map<std::string, double> server;
  for (const auto& [name, v] : server_counters.items()) {
    const std::string k = kernel_name_for(name);
    if (!k.empty() && v.is_number()) server[k] += v.get<double>();
  }
  json check = json::object();
  for (const auto& [k, s] : server) {
    auto it = window.find(k);
    const double kernel = it == window.end() ? 0 : static_cast<double>(it->second);
    if (kernel == 0 && s == 0) continue;
    const double hi = std::max(kernel, s);
    // Within 1%; a difference of one or two calls is the snapshots' own
    // edges (a call in flight when the counters were read), not a disagreement.
    const bool agree = std::fabs(kernel - s) <= std::max(0.01 * hi, 2.0);
    check[k] = {{"kernel", kernel}, {"server", s}, {"agree", agree}};
  }
  json unseen = json::array();
  for (const auto& [name, n] : window)
    if (!server.count(name)) unseen.push_back(name);
  r["cross_check"] = check;
  r["server_unseen"] = unseen;
  return r;
}

}  // namespace iomodels::harness::cost
