// CPU use of a running process, for the server-side cost of a measured
// window: two samples, subtract (cpu_window).
//
// The figure is the process CPU clock (clock_getcpuclockid + clock_gettime):
// nanoseconds, every thread, exited ones included. /proc is read only for what
// the clock cannot say: the user/system split (in clock ticks, USER_HZ) and
// the context switches, which /proc has per live thread only.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

struct CpuSample {
  uint64_t taken_ns = 0;  // CLOCK_MONOTONIC when taken
  uint64_t cpu_ns = 0;    // process CPU clock
  double user_s = 0;      // /proc/PID/stat, in ticks (whole process)
  double sys_s = 0;
  // Summed over the live threads (/proc/PID/task/*/status): the per-process
  // status file counts the main thread only.
  long long voluntary_ctxt_switches = 0;
  long long involuntary_ctxt_switches = 0;
  std::set<int> tids;
  // Bounds on the CPU time of threads that already exited: the process clock
  // read before and after the task scan, minus the live threads' own run
  // time (/proc/PID/task/*/schedstat). If the lower bound at the end of a
  // window passes the upper bound at its start, a thread exited inside it.
  int64_t exited_lo_ns = 0;
  int64_t exited_hi_ns = 0;
};

// nullopt once the process is gone.
std::optional<CpuSample> sample_cpu(pid_t pid);

struct CpuWindow {
  uint64_t span_ns = 0;
  uint64_t cpu_ns = 0;
  double user_s = 0, sys_s = 0;  // ticks
  bool threads_exited = false;   // then the switch counts are unknown
  long long voluntary_ctxt_switches = 0, involuntary_ctxt_switches = 0;
  size_t threads_start = 0, threads_end = 0;
};
CpuWindow cpu_window(const CpuSample& start, const CpuSample& end);

// repetitions[i].server_cpu: requests is the number of requests answered in
// the window (the denominator of the per-request figures). Switch counts are
// null, never clamped, when a thread exited inside the window.
nlohmann::json server_cpu_json(const CpuWindow& w, double requests);

}  // namespace iomodels::harness
