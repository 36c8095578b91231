// CPU use of a running process read from /proc, for the server-side cost of a
// measured window: two samples, subtract.
#pragma once
#include <sys/types.h>

#include <optional>

namespace iomodels::harness {

struct CpuSample {
  double user_s = 0;
  double sys_s = 0;
  // Summed over the process's live threads (/proc/PID/task/*/status): the
  // per-process status file counts the main thread only, which would show a
  // thread-per-connection server as never switching.
  long long voluntary_ctxt_switches = 0;
  long long involuntary_ctxt_switches = 0;
};

// nullopt once the process is gone.
std::optional<CpuSample> sample_cpu(pid_t pid);

inline CpuSample operator-(const CpuSample& a, const CpuSample& b) {
  return {a.user_s - b.user_s, a.sys_s - b.sys_s, a.voluntary_ctxt_switches - b.voluntary_ctxt_switches,
          a.involuntary_ctxt_switches - b.involuntary_ctxt_switches};
}

}  // namespace iomodels::harness
