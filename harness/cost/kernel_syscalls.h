// Syscalls counted by the kernel, by name, for one process and every thread
// it has or will have: a perf counter on each syscalls:sys_enter_* tracepoint.
//
// Why not the servers' own counters: those are count() calls placed by hand
// beside the calls the author thought of, so a syscall nobody wrapped (one
// getppid() per recv, a library's hidden futex) is invisible to them. The
// tracepoints see every syscall the threads enter. Counting (not sampling)
// keeps it cheap: nothing is written per syscall, only a counter bumped.
//
// Shared by `harness run` (per repetition, over the measured window),
// `harness cost` and the CI gate's deterministic tier.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness::cost {

using SyscallCounts = std::map<std::string, uint64_t>;

// "" when counting works here, else why not (a test prints it as its skip
// reason): no tracefs, perf_event_open refused (paranoid level, no root).
// Mounts tracefs at /sys/kernel/tracing when it is missing and we may.
std::string kernel_syscalls_unavailable();

class KernelSyscallCounter {
 public:
  // Attaches to every current thread of `pid` (inherit: threads they create
  // later are counted into them). Throws std::system_error naming the call.
  explicit KernelSyscallCounter(pid_t pid);
  ~KernelSyscallCounter();
  KernelSyscallCounter(const KernelSyscallCounter&) = delete;
  KernelSyscallCounter& operator=(const KernelSyscallCounter&) = delete;

  // Counts since attaching, by syscall name; only the nonzero ones.
  SyscallCounts read() const;
  size_t threads() const { return threads_; }

 private:
  struct Counter {
    int fd;
    size_t name;  // index into names_
  };
  std::vector<std::string> names_;
  std::vector<Counter> counters_;
  size_t threads_ = 0;
};

// end - start, name by name (names missing from start count from 0).
SyscallCounts minus(const SyscallCounts& end, const SyscallCounts& start);
uint64_t total(const SyscallCounts& c);

// The run.json record of one window: counts, per message, and the
// cross-check against the server's own counters (its stats window, by name;
// null when it has none): {"by_name", "total", "per_message",
// "total_per_message", "messages", "cross_check": {name: {kernel, server,
// agree}}, "server_unseen": [names the kernel saw and the server does not count]}.
nlohmann::json syscalls_record(const SyscallCounts& window, double messages, const nlohmann::json& server_counters);

// The servers' counter names are the libc calls they wrap; the kernel names
// the syscall that carries it (accept → accept4 on x86-64 glibc, epoll_wait
// → epoll_wait or epoll_pwait). Kernel name for a server counter name.
std::string kernel_name_for(const std::string& server_name);

}  // namespace iomodels::harness::cost
