// A histogram kept as its non-empty buckets only, for long time series. The
// full Histogram is ~220 KB (27,648 counters, 1 us to 60 s at 3 digits); the
// loadgen keeps one per second of its window, so a one-hour run held ~800 MB
// per thread from its first second, and a day 19 GB. A second's replies fill
// a few hundred buckets: folded into this form when the second ends, each
// bucket costs ~3 bytes (LEB128 varints: the gap from the previous bucket's
// value, then the count), and expand() gives back the identical full
// histogram (same counts, exact min and max) for percentiles and output.
// (Pairs of 64-bit words were 16 bytes a bucket: 80 MB an hour at 1000 req/s.)
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/histogram.h"

namespace iomodels {

class CompactHistogram {
 public:
  // Adds every count of `h` (merging buckets already held).
  void add(const Histogram& h);
  // Adds buckets given as (lowest value of the bucket, count), ascending,
  // with the exact min and max of their values (0 when unknown).
  void add(const std::vector<std::pair<uint64_t, uint64_t>>& buckets, uint64_t min_ns, uint64_t max_ns);
  void merge(const CompactHistogram& other);
  // The full histogram: counts identical to what was added, min/max exact.
  Histogram expand() const;

  bool empty() const noexcept { return buckets_ == 0; }
  uint64_t count() const;
  size_t bucket_count() const noexcept { return buckets_; }
  size_t encoded_bytes() const noexcept { return data_.size(); }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> decode() const;
  void encode(const std::vector<std::pair<uint64_t, uint64_t>>& buckets);

  std::vector<uint8_t> data_;  // per bucket, ascending: varint(value - previous value), varint(count)
  uint32_t buckets_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace iomodels
