// A log-linear latency histogram in the HdrHistogram style: 3 significant
// digits over 1 µs .. 60 s, values in nanoseconds. Recording is a few integer
// operations and an increment; histograms merge by adding counts, so
// percentiles across threads, runs and hosts are recomputed, never averaged.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace iomodels {

class Histogram {
 public:
  static constexpr uint64_t kLowestNs = 1'000;             // 1 µs
  static constexpr uint64_t kHighestNs = 60'000'000'000;   // 60 s
  static constexpr int kSignificantDigits = 3;

  Histogram();

  // Values below 1 µs land in the first bucket, above 60 s in the last (and
  // are counted in saturated()); min/max keep the exact values seen.
  void record(uint64_t value_ns, uint64_t count = 1) noexcept;
  void merge(const Histogram& other);
  void reset() noexcept;

  uint64_t count() const noexcept { return total_; }
  uint64_t saturated() const noexcept { return saturated_; }
  uint64_t min() const noexcept;   // exact; 0 when empty
  uint64_t max() const noexcept;   // exact; 0 when empty
  double mean() const noexcept;
  double stdev() const noexcept;
  // percentile in [0, 100]; the highest value equivalent to the bucket holding
  // that rank (as HdrHistogram does), clamped to max(). 0 when empty.
  uint64_t value_at_percentile(double percentile) const noexcept;

  // Non-empty buckets as (lowest value of the bucket in ns, count), ascending.
  // record(value, count) of each pair rebuilds an identical histogram.
  std::vector<std::pair<uint64_t, uint64_t>> buckets() const;

  // Relative error bound of any reported value (0.001 for 3 digits).
  static constexpr double kRelativeError = 0.001;

 private:
  size_t index_of(uint64_t value) const noexcept;
  uint64_t lowest_equivalent(size_t index) const noexcept;
  uint64_t highest_equivalent(size_t index) const noexcept;

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t saturated_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;
  double sum_sq_ = 0;
};

}  // namespace iomodels
