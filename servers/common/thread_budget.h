// How many more threads this process may start before the kernel refuses one:
// RLIMIT_NPROC (threads count as processes) and the cgroup's pids.max (v1 or
// v2, every level up to the root). posix_aio needs this: glibc runs each aio
// request on a helper thread, and when it cannot start one the request queues
// behind helpers parked on idle sockets, so that connection silently never
// gets an echo. Admission therefore stops below the budget.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace iomodels {

struct ThreadBudget {
  size_t threads = 0;     // more threads we may start (SIZE_MAX: no limit found)
  std::string limited_by; // "RLIMIT_NPROC", "pids.max (PATH)", or empty
};

// Read the limits now (a few small /proc and /sys files: call it rarely).
ThreadBudget thread_budget();

// The pids.max/pids.current files of the cgroup a /proc/PID/cgroup text names,
// for v2 ("0::/path") and v1 ("N:pids:/path") hierarchies, innermost first,
// under `root` (normally /sys/fs/cgroup). Exposed for the unit test.
std::vector<std::string> pids_cgroup_dirs(const std::string& proc_cgroup_text, const std::string& root);

}  // namespace iomodels
