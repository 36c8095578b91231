// The one-line progress of a long run: rewritten in place on a terminal,
// nothing at all otherwise (CI logs hold only what went wrong).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/clock.h"

namespace iomodels::harness {

inline std::string fmt_duration(double s) {
  char buf[32];
  int t = static_cast<int>(s + 0.5);
  std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  return buf;
}

class Progress {
 public:
  Progress(bool enabled, size_t total, double expected_s)
      : on_(enabled && ::isatty(STDERR_FILENO)), total_(total), expected_(expected_s), start_(now_ns()) {}
  void show(size_t i, const std::string& what, double done_expected_s) {
    if (!on_) return;
    double elapsed = static_cast<double>(now_ns() - start_) / 1e9;
    // Scale the plan by how fast reality has gone so far.
    double speed = done_expected_s > 0 ? elapsed / done_expected_s : 1.0;
    double eta = (expected_ - done_expected_s) * speed;
    std::fprintf(stderr, "\r\033[Kcase %zu/%zu, ETA %s  %s", i + 1, total_, fmt_duration(eta).c_str(), what.c_str());
    std::fflush(stderr);
  }
  void note(const std::string& line) {
    std::fprintf(stderr, "%s%s\n", on_ ? "\r\033[K" : "", line.c_str());
  }
  void done() {
    if (on_) std::fprintf(stderr, "\r\033[K");
  }
  void note_inline(const std::string& line) {
    if (!on_) return;
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  }

 private:
  bool on_;
  size_t total_;
  double expected_;
  uint64_t start_;
};

}  // namespace iomodels::harness
