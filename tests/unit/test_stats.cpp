// The gate's statistics (harness/stats/stats.h). Reference values were computed once
// by brute force, independently of this code: every one of the 2^n sign
// assignments enumerated in Python (itertools.product), T+ summed per
// assignment, Walsh averages listed and sorted.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "harness/stats/stats.h"

namespace iomodels::harness::stats {
namespace {

const std::vector<double> kD = {0.12, -0.03, 0.25, 0.08, 0.31, 0.05, 0.17, -0.01, 0.22, 0.09};

TEST(SignedRank, NullDistributionMatchesEnumeration) {
  auto c = signed_rank_counts(10);
  ASSERT_EQ(c.size(), 56u);  // T+ = 0 … 55
  const std::vector<double> head = {1, 1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 11};
  for (size_t t = 0; t < head.size(); ++t) EXPECT_EQ(c[t], head[t]) << "t=" << t;
  EXPECT_EQ(std::accumulate(c.begin(), c.end(), 0.0), 1024);
  for (size_t t = 0; t < c.size(); ++t) EXPECT_EQ(c[t], c[c.size() - 1 - t]) << "symmetric";
}

TEST(SignedRank, OneSidedExactPValues) {
  // T+ = 52, 37, 33 for mu = 0, 0.05, 0.10.
  EXPECT_DOUBLE_EQ(signed_rank_p_greater(kD, 0.0), 5.0 / 1024);
  EXPECT_DOUBLE_EQ(signed_rank_p_greater(kD, 0.05), 50.0 / 1024);
  EXPECT_DOUBLE_EQ(signed_rank_p_greater(kD, 0.10), 320.0 / 1024);
  // All ten above: the smallest p ten pairs can give.
  EXPECT_DOUBLE_EQ(signed_rank_p_greater(kD, -1.0), 1.0 / 1024);
  EXPECT_DOUBLE_EQ(signed_rank_p_greater(kD, 1.0), 1.0);
  EXPECT_EQ(signed_rank_p_greater({}, 0.0), 1.0);
  EXPECT_EQ(signed_rank_p_greater({0.2, 0.2}, 0.2), 1.0) << "differences equal to mu are dropped";
}

TEST(SignedRank, TiesUseTheNormalApproximation) {
  // Tied magnitudes get mid-ranks: T+ = 55 - 2 - 5 = 48, z = 2.05, p = 0.020.
  double p = signed_rank_p_greater({1, 1, 2, 2, 3, -1, 4, 4, -2, 5}, 0);
  EXPECT_GT(p, 0.005);
  EXPECT_LT(p, 0.03);
}

TEST(HodgesLehmann, EstimateAndExactInterval) {
  Interval i = hodges_lehmann(kD, 0.95);
  EXPECT_EQ(i.n, 10);
  EXPECT_TRUE(i.exact);
  EXPECT_NEAR(i.estimate, 0.12, 1e-12);
  EXPECT_NEAR(i.lo, 0.04, 1e-12);  // 9th smallest Walsh average of 55
  EXPECT_NEAR(i.hi, 0.21, 1e-12);  // 9th largest
  Interval j = hodges_lehmann(kD, 0.90);
  EXPECT_NEAR(j.lo, 0.05, 1e-12);  // 11th
  EXPECT_NEAR(j.hi, 0.195, 1e-12);
}

TEST(HodgesLehmann, TooFewPairsGiveAnInfiniteInterval) {
  // Five pairs: P(T+ = 0) = 1/32 > 0.025, so no finite 95% bound exists.
  Interval i = hodges_lehmann({0.12, -0.03, 0.25, 0.08, 0.31}, 0.95);
  EXPECT_TRUE(std::isinf(i.lo));
  EXPECT_TRUE(std::isinf(i.hi));
  Interval six = hodges_lehmann({0.12, -0.03, 0.25, 0.08, 0.31, 0.05}, 0.95);
  EXPECT_NEAR(six.lo, -0.03, 1e-12);  // k = 1: the extremes
  EXPECT_NEAR(six.hi, 0.31, 1e-12);
  EXPECT_TRUE(std::isnan(hodges_lehmann({}).estimate));
}

// The gate's rule "whole interval past the threshold" and "one-sided test at
// (1 - confidence)/2 rejects" must be the same decision.
TEST(HodgesLehmann, IntervalIsTheDualOfTheTest) {
  Interval i = hodges_lehmann(kD, 0.95);
  EXPECT_LE(signed_rank_p_greater(kD, i.lo - 1e-9), 0.025);
  EXPECT_GT(signed_rank_p_greater(kD, i.lo + 1e-9), 0.025);
}

TEST(HodgesLehmann, LargeSamplesUseTheNormalApproximation) {
  std::vector<double> d;
  for (int k = 0; k < 80; ++k) d.push_back(0.01 * ((k * 37) % 80) - 0.2);  // 80 distinct values
  Interval i = hodges_lehmann(d, 0.95);
  EXPECT_FALSE(i.exact);
  EXPECT_LT(i.lo, i.estimate);
  EXPECT_GT(i.hi, i.estimate);
  EXPECT_NEAR(i.estimate, 0.195, 1e-9);  // symmetric set: centre of -0.2 … 0.59
}

TEST(Holm, StepDownAdjustment) {
  // sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04)
  auto a = holm_adjust({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(a.size(), 4u);
  EXPECT_DOUBLE_EQ(a[0], 0.03);
  EXPECT_DOUBLE_EQ(a[1], 0.06);
  EXPECT_DOUBLE_EQ(a[2], 0.06);
  EXPECT_DOUBLE_EQ(a[3], 0.02);
  EXPECT_DOUBLE_EQ(holm_adjust({0.4, 0.5})[1], 0.8);
  EXPECT_DOUBLE_EQ(holm_adjust({0.9, 0.8})[0], 1.0) << "capped at 1";
  EXPECT_TRUE(holm_adjust({}).empty());
}

TEST(Median, OddEvenEmpty) {
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(median({})));
}

}  // namespace
}  // namespace iomodels::harness::stats
