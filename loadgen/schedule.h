// The open-loop schedule and the request-size picker: pure arithmetic, no I/O,
// so both are unit-tested and cost nothing per request beyond a multiply.
//
// Open loop at R requests/s over N connections: connection slot g sends its
// k-th request at  t0 + (g + k*N) / R  seconds. All slots share one period
// (N/R) and are offset by 1/R from each other, so the merged stream is evenly
// spaced, every connection keeps its own schedule, and a worker that walks its
// slots in order of g meets their due times in increasing order (no heap).
#pragma once
#include <cstddef>
#include <cstdint>

namespace iomodels::loadgen {

class OpenLoopSchedule {
 public:
  OpenLoopSchedule() = default;
  OpenLoopSchedule(uint64_t t0_ns, double rate, uint64_t total_slots)
      : t0_ns_(t0_ns), ns_per_request_(1e9 / rate), total_slots_(total_slots) {}

  // Intended send time of request k of slot g. Doubles keep sub-ns precision
  // up to ~2^53 ns of offset (104 days), far past any run.
  uint64_t intended_ns(uint64_t slot, uint64_t k) const noexcept {
    double index = static_cast<double>(slot) + static_cast<double>(k) * static_cast<double>(total_slots_);
    return t0_ns_ + static_cast<uint64_t>(index * ns_per_request_);
  }
  // First k whose intended time is >= t (a slot joining mid-run, e.g. after warmup).
  uint64_t first_k_at_or_after(uint64_t slot, uint64_t t_ns) const noexcept {
    if (t_ns <= intended_ns(slot, 0)) return 0;
    double k = (static_cast<double>(t_ns - t0_ns_) / ns_per_request_ - static_cast<double>(slot)) /
               static_cast<double>(total_slots_);
    auto guess = static_cast<uint64_t>(k);
    while (guess > 0 && intended_ns(slot, guess - 1) >= t_ns) --guess;
    while (intended_ns(slot, guess) < t_ns) ++guess;
    return guess;
  }

 private:
  uint64_t t0_ns_ = 0;
  double ns_per_request_ = 0;
  uint64_t total_slots_ = 1;
};

// Request sizes: fixed, or uniform in [min, max] from a per-connection
// xorshift64* stream seeded by (seed, connection slot): the same command line
// sends the same sizes, and no two connections share a sequence.
class SizePicker {
 public:
  SizePicker() = default;
  SizePicker(size_t min, size_t max, uint64_t seed, uint64_t slot)
      : min_(min), span_(max - min + 1), state_(mix(seed * 0x9E3779B97F4A7C15ull + slot + 1)) {}

  size_t next() noexcept {
    if (span_ == 1) return min_;
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    uint64_t r = state_ * 0x2545F4914F6CDD1Dull;
    // Multiply-shift maps r to [0, span) without a division; bias < span/2^64.
    __extension__ using u128 = unsigned __int128;
    return min_ + static_cast<size_t>((static_cast<u128>(r) * span_) >> 64);
  }

 private:
  static uint64_t mix(uint64_t z) noexcept {  // splitmix64 finaliser: never 0 in practice
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 1;
  }
  size_t min_ = 64;
  uint64_t span_ = 1;
  uint64_t state_ = 1;
};

}  // namespace iomodels::loadgen
