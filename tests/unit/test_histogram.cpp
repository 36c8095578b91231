#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/histogram.h"
#include "core/histogram_compact.h"

namespace iomodels {
namespace {

// Latency-like data: log-normal around 50 µs, spanning 1 µs .. seconds.
std::vector<uint64_t> random_latencies(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(50'000.0), 1.5);
  std::vector<uint64_t> v(n);
  for (auto& x : v) {
    x = std::clamp<uint64_t>(static_cast<uint64_t>(dist(rng)), Histogram::kLowestNs,
                             Histogram::kHighestNs);
  }
  return v;
}

// The same rank rule the histogram documents (HdrHistogram's): nearest rank, at least 1.
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double p) {
  auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.5);
  rank = std::max<uint64_t>(rank, 1);
  return sorted[rank - 1];
}

constexpr double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.value_at_percentile(99), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_TRUE(h.buckets().empty());
}

TEST(Histogram, PercentilesWithinStatedPrecisionOfExact) {
  for (unsigned seed : {1u, 2u, 3u}) {
    auto values = random_latencies(100'000, seed);
    Histogram h;
    for (uint64_t v : values) h.record(v);
    std::sort(values.begin(), values.end());
    EXPECT_EQ(h.count(), values.size());
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    for (double p : kPercentiles) {
      uint64_t exact = exact_percentile(values, p);
      uint64_t got = h.value_at_percentile(p);
      EXPECT_GE(got, exact) << "p" << p;  // highest equivalent value of the bucket
      EXPECT_LE(static_cast<double>(got - exact), Histogram::kRelativeError * static_cast<double>(exact))
          << "p" << p << " exact " << exact << " got " << got;
    }
    double sum = 0;
    for (uint64_t v : values) sum += static_cast<double>(v);
    EXPECT_NEAR(h.mean(), sum / static_cast<double>(values.size()), 1e-6 * h.mean());
  }
}

TEST(Histogram, EveryValueKeepsThreeDigits) {
  // Bucket edges: powers of two and their neighbours, across the whole range.
  for (uint64_t p2 = 1024; p2 <= Histogram::kHighestNs; p2 *= 2) {
    for (uint64_t v : {p2 - 1, p2, p2 + 1, p2 + p2 / 3}) {
      if (v < Histogram::kLowestNs || v > Histogram::kHighestNs) continue;
      Histogram h;
      h.record(v);
      auto b = h.buckets();
      ASSERT_EQ(b.size(), 1u);
      EXPECT_LE(b[0].first, v);
      EXPECT_LE(static_cast<double>(v - b[0].first), Histogram::kRelativeError * static_cast<double>(v));
      EXPECT_EQ(h.value_at_percentile(50), v);  // clamped to the exact max
    }
  }
}

TEST(Histogram, MergeEqualsWhole) {
  auto values = random_latencies(30'000, 9);
  Histogram whole, parts[3];
  for (size_t i = 0; i < values.size(); ++i) {
    whole.record(values[i]);
    parts[i % 3].record(values[i]);
  }
  Histogram merged;
  for (auto& p : parts) merged.merge(p);
  EXPECT_EQ(merged.count(), whole.count());
  EXPECT_EQ(merged.min(), whole.min());
  EXPECT_EQ(merged.max(), whole.max());
  EXPECT_EQ(merged.buckets(), whole.buckets());
  for (double p : kPercentiles) EXPECT_EQ(merged.value_at_percentile(p), whole.value_at_percentile(p));
  EXPECT_NEAR(merged.mean(), whole.mean(), 1e-9 * whole.mean());
  EXPECT_NEAR(merged.stdev(), whole.stdev(), 1e-6 * whole.stdev());
}

TEST(Histogram, BucketsRoundTrip) {
  auto values = random_latencies(50'000, 4);
  Histogram h;
  for (uint64_t v : values) h.record(v);
  Histogram rebuilt;
  for (auto [value, count] : h.buckets()) rebuilt.record(value, count);
  EXPECT_EQ(rebuilt.buckets(), h.buckets());
  EXPECT_EQ(rebuilt.count(), h.count());
  for (double p : {25.0, 50.0, 90.0, 99.0}) {
    EXPECT_EQ(rebuilt.value_at_percentile(p), h.value_at_percentile(p)) << p;
  }
}

// The loadgen keeps one CompactHistogram per second of its window (a full one
// is ~220 KB): folded in second by second and merged across threads, it must
// give back exactly the histogram a full one would have held.
TEST(CompactHistogram, FoldedAndMergedEqualsWhole) {
  auto values = random_latencies(20'000, 11);
  Histogram whole, part[2];
  CompactHistogram compact[2];
  for (size_t i = 0; i < values.size(); ++i) {
    whole.record(values[i]);
    part[i % 2].record(values[i]);
    if (i % 1000 == 999) {  // a second ends: fold the live histogram, start afresh
      for (int k = 0; k < 2; ++k) {
        compact[k].add(part[k]);
        part[k].reset();
      }
    }
  }
  compact[0].merge(compact[1]);
  Histogram back = compact[0].expand();
  EXPECT_EQ(back.count(), whole.count());
  EXPECT_EQ(compact[0].count(), whole.count());
  EXPECT_EQ(back.min(), whole.min());
  EXPECT_EQ(back.max(), whole.max());
  EXPECT_EQ(back.buckets(), whole.buckets());
  for (double p : kPercentiles) EXPECT_EQ(back.value_at_percentile(p), whole.value_at_percentile(p)) << p;
  // Kilobytes, not the full layout's 27,648 counters.
  EXPECT_EQ(compact[0].bucket_count(), whole.buckets().size());
  EXPECT_LT(compact[0].bucket_count(), 10'000u);
  EXPECT_LT(compact[0].encoded_bytes(), 5 * compact[0].bucket_count());  // varints: a few bytes a bucket
  EXPECT_TRUE(CompactHistogram().empty());
  EXPECT_EQ(CompactHistogram().expand().count(), 0u);
}

TEST(CompactHistogram, KeepsExactMinAndMax) {
  // Neither value is its bucket's lowest (the buckets are 2^17 ns wide here).
  Histogram h;
  h.record(123'456'789);
  h.record(987'654'321);
  CompactHistogram c;
  c.add(h);
  Histogram back = c.expand();
  EXPECT_EQ(back.count(), 2u);
  EXPECT_EQ(back.min(), 123'456'789u);
  EXPECT_EQ(back.max(), 987'654'321u);
  Histogram one;
  one.record(55'555'555);
  CompactHistogram single;
  single.add(one);
  EXPECT_EQ(single.expand().min(), 55'555'555u);
  EXPECT_EQ(single.expand().max(), 55'555'555u);
  EXPECT_EQ(single.expand().count(), 1u);
}

TEST(Histogram, OutOfRangeValuesAreClampedAndCounted) {
  Histogram h;
  h.record(10);                        // below 1 µs: first bucket, exact min
  h.record(100'000'000'000ull, 2);     // 100 s: last bucket, saturated
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.saturated(), 2u);
  EXPECT_EQ(h.min(), 10u);
  EXPECT_EQ(h.max(), 100'000'000'000ull);
  auto b = h.buckets();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].first, Histogram::kLowestNs);
  EXPECT_LE(b[1].first, Histogram::kHighestNs);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_TRUE(h.buckets().empty());
}

TEST(Histogram, StdevOfKnownData) {
  Histogram h;
  for (uint64_t v : {2000, 4000, 4000, 4000, 5000, 5000, 7000, 9000}) h.record(v);
  EXPECT_DOUBLE_EQ(h.mean(), 5000.0);
  EXPECT_NEAR(h.stdev(), 2000.0, 1e-6);
}

}  // namespace
}  // namespace iomodels
