// Monotonic time in nanoseconds, the one clock every latency here is read from.
#pragma once
#include <time.h>

#include <cstdint>

namespace iomodels {

inline uint64_t now_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace iomodels
