#include "core/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace iomodels {
namespace {

// HdrHistogram's layout with a unit of 1 ns: 2048 sub-buckets give 3
// significant digits (a step of 2^k over values >= 1024 * 2^k is < 1/1000 of
// the value), and each further bucket doubles the range with the top half of
// its sub-buckets only (the bottom half is the previous bucket).
constexpr int kSubBucketBits = 11;                              // 2048 >= 2 * 10^3
constexpr uint64_t kSubBucketCount = 1ull << kSubBucketBits;
constexpr int kSubBucketHalfBits = kSubBucketBits - 1;
constexpr uint64_t kSubBucketHalfCount = 1ull << kSubBucketHalfBits;
constexpr uint64_t kSubBucketMask = kSubBucketCount - 1;
constexpr int kLeadingZeroBase = 64 - kSubBucketHalfBits - 1;  // unit magnitude 0

constexpr size_t counts_length() {
  // Smallest number of buckets whose top value exceeds the highest trackable.
  size_t buckets = 1;
  uint64_t untrackable = kSubBucketCount;
  while (untrackable <= Histogram::kHighestNs) {
    untrackable <<= 1;
    ++buckets;
  }
  return (buckets + 1) * kSubBucketHalfCount;
}

}  // namespace

Histogram::Histogram() : counts_(counts_length(), 0) {}

size_t Histogram::index_of(uint64_t value) const noexcept {
  int bucket = kLeadingZeroBase - std::countl_zero(value | kSubBucketMask);
  uint64_t sub = value >> bucket;
  return (static_cast<size_t>(bucket + 1) << kSubBucketHalfBits) + (sub - kSubBucketHalfCount);
}

uint64_t Histogram::lowest_equivalent(size_t index) const noexcept {
  int bucket = static_cast<int>(index >> kSubBucketHalfBits) - 1;
  uint64_t sub = (index & (kSubBucketHalfCount - 1)) + kSubBucketHalfCount;
  if (bucket < 0) {
    sub -= kSubBucketHalfCount;
    bucket = 0;
  }
  return sub << bucket;
}

uint64_t Histogram::highest_equivalent(size_t index) const noexcept {
  int bucket = std::max(static_cast<int>(index >> kSubBucketHalfBits) - 1, 0);
  return lowest_equivalent(index) + (1ull << bucket) - 1;
}

void Histogram::record(uint64_t value_ns, uint64_t count) noexcept {
  if (count == 0) return;
  uint64_t v = value_ns;
  if (v < kLowestNs) {
    v = kLowestNs;
  } else if (v > kHighestNs) {
    v = kHighestNs;
    saturated_ += count;
  }
  counts_[index_of(v)] += count;
  total_ += count;
  min_ = std::min(min_, value_ns);
  max_ = std::max(max_, value_ns);
  double d = static_cast<double>(value_ns);
  double c = static_cast<double>(count);
  sum_ += d * c;
  sum_sq_ += d * d * c;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  saturated_ += other.saturated_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  sum_sq_ += other.sum_sq_;
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = saturated_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = sum_sq_ = 0;
}

uint64_t Histogram::min() const noexcept { return total_ ? min_ : 0; }
uint64_t Histogram::max() const noexcept { return total_ ? max_ : 0; }

double Histogram::mean() const noexcept {
  return total_ ? sum_ / static_cast<double>(total_) : 0.0;
}

double Histogram::stdev() const noexcept {
  if (total_ == 0) return 0.0;
  double m = mean();
  double var = sum_sq_ / static_cast<double>(total_) - m * m;
  return var > 0 ? std::sqrt(var) : 0.0;
}

uint64_t Histogram::value_at_percentile(double percentile) const noexcept {
  if (total_ == 0) return 0;
  double p = std::clamp(percentile, 0.0, 100.0);
  // Same rank as HdrHistogram: round to nearest, at least the first value.
  auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(total_) + 0.5);
  rank = std::max<uint64_t>(rank, 1);
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    if (running >= rank) return std::min(highest_equivalent(i), max_);
  }
  return max_;
}

std::vector<std::pair<uint64_t, uint64_t>> Histogram::buckets() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) out.emplace_back(lowest_equivalent(i), counts_[i]);
  }
  return out;
}

}  // namespace iomodels
