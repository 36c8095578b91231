// The measured window, from the harness's side: the loadgen writes
// `window_start NS` and `window_end NS` on a pipe (--notify-fd, CLOCK_MONOTONIC);
// at each the harness samples the server's CPU clock and asks it for a
// `stats` snapshot (SIGUSR1), so that CPU and counters cover exactly the
// loadgen's window and nothing of its start-up (connects, idle connections,
// warmup) or teardown.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/cost/kernel_syscalls.h"
#include "harness/run/proc_sample.h"
#include "harness/run/process.h"

namespace iomodels::harness {

struct WindowEnd {
  CpuSample cpu;
  nlohmann::json stats;        // the server's snapshot; null if it gave none
  uint64_t announced_ns = 0;   // the loadgen's timestamp (0: timed by the harness)
  // The kernel's syscall counts at this instant (only with a counter): read
  // between the snapshot and the CPU sample's far side, so the snapshot's own
  // write stays out as it does for the CPU figure.
  std::optional<cost::SyscallCounts> kernel;
};

class WindowSampler {
 public:
  WindowSampler(Child& server, bool snapshots, int snapshot_timeout_ms,
                const cost::KernelSyscallCounter* kernel = nullptr)
      : srv_(server), snapshots_(snapshots), timeout_ms_(snapshot_timeout_ms), kernel_(kernel) {}

  // At the start the snapshot is taken before the CPU sample and at the end
  // after it, so that the server's own work for the two snapshots stays out
  // of the CPU figure. false if the server is gone.
  bool take_start(uint64_t announced_ns);
  bool take_end(uint64_t announced_ns);
  const std::optional<WindowEnd>& start() const { return start_; }
  const std::optional<WindowEnd>& end() const { return end_; }

  // repetitions[i].window: where the bounds came from and how late the
  // harness sampled after the loadgen's announcement.
  nlohmann::json describe(const std::string& source) const;

 private:
  nlohmann::json snapshot();
  void snapshot_with_kernel(WindowEnd& w);
  Child& srv_;
  bool snapshots_;
  int timeout_ms_;
  const cost::KernelSyscallCounter* kernel_;
  std::optional<WindowEnd> start_, end_;
};

// Reads complete lines from the loadgen's notify pipe without blocking.
class NotifyReader {
 public:
  explicit NotifyReader(int fd) : fd_(fd) {}
  // Waits up to timeout_ms for input; returns the next complete line if any.
  std::optional<std::string> next(int timeout_ms);
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string pending_;
  bool eof_ = false;
};

// "window_start 123" -> {"window_start", 123}; nullopt for anything else.
std::optional<std::pair<std::string, uint64_t>> parse_notify_line(const std::string& line);

}  // namespace iomodels::harness
