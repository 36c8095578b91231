// Paired statistics for the A/B regression gate (harness ab): the
// Hodges–Lehmann estimate of a paired shift with its distribution-free
// confidence interval, the Wilcoxon signed-rank test it is the dual of, and
// Holm's step-down correction over many cases.
//
// Why these: the gate measures base and head moments apart, so each
// repetition gives one paired difference of logs (log head − log base) and host
// drift cancels within the pair. The signed-rank interval assumes only that
// those differences are symmetric about their centre, not normal, and with 10
// pairs it is exact. "The whole interval lies past the threshold" is then the
// same decision as "the one-sided signed-rank test rejects centre ≤ threshold".
#pragma once
#include <vector>

namespace iomodels::harness::stats {

// Number of the 2^n sign assignments giving each value of the signed-rank
// statistic T+ (sum of the ranks of the positive differences), for n untied,
// non-zero differences: counts[t], t = 0 … n(n+1)/2.
std::vector<double> signed_rank_counts(int n);

struct Interval {
  double estimate = 0;   // Hodges–Lehmann: median of the Walsh averages
  double lo = 0, hi = 0; // -inf/+inf when n is too small for this confidence
  int n = 0;
  bool exact = true;     // exact signed-rank distribution (n <= kExactMaxN) or normal approximation
};
constexpr int kExactMaxN = 50;

// Hodges–Lehmann estimate of the centre of d and its two-sided `confidence`
// interval from the signed-rank distribution: [W(k), W(M+1−k)] of the M sorted
// Walsh averages (d_i + d_j)/2, i <= j, k the largest with P(T+ < k) <= (1−confidence)/2.
// Empty d gives n = 0 and an infinite interval.
Interval hodges_lehmann(const std::vector<double>& d, double confidence = 0.95);

// One-sided Wilcoxon signed-rank test of "centre of d <= mu" against "> mu":
// the p-value P(T+ >= observed). Differences equal to mu are dropped (Wilcoxon's
// rule); exact without ties up to kExactMaxN, otherwise the normal
// approximation with tie and continuity corrections. 1 when nothing is left.
double signed_rank_p_greater(const std::vector<double>& d, double mu);

// Holm's step-down adjustment: adjusted p-values, in the input order.
// Rejecting every adjusted p <= alpha controls the family-wise error at alpha.
std::vector<double> holm_adjust(const std::vector<double>& p);

// Median of v (mean of the middle two for an even count); NaN for empty v.
double median(std::vector<double> v);

}  // namespace iomodels::harness::stats
