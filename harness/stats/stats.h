// Every statistical test the harness runs, in one place.
//
// Paired, for the A/B regression gate (harness ab): the Hodges–Lehmann
// estimate of a paired shift with its distribution-free confidence interval,
// the Wilcoxon signed-rank test it is the dual of, and Holm's step-down
// correction over many cases.
//
// Unpaired, for `harness compare` (two runs measured apart, so no round of
// one has a partner in the other): the Mann–Whitney U test and Moses'
// interval, the two-sample forms of the signed-rank test and the
// Hodges–Lehmann interval above.
//
// Why these: the gate measures base and head moments apart, so each
// repetition gives one paired difference of logs (log head − log base) and host
// drift cancels within the pair. The signed-rank interval assumes only that
// those differences are symmetric about their centre, not normal, and with 10
// pairs it is exact. "The whole interval lies past the threshold" is then the
// same decision as "the one-sided signed-rank test rejects centre ≤ threshold".
#pragma once
#include <utility>
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

struct MannWhitney {
  double u = 0;         // U of the first sample
  double p = 1;         // two-sided
  bool exact = false;   // exact null distribution (no ties, both n <= 20) vs normal approximation
  double min_p = 1;     // smallest p these sample sizes can give at all
};
// Two-sided Mann-Whitney U test. Exact when there are no ties and both
// samples have at most 20 values; otherwise the normal approximation with tie
// and continuity corrections.
MannWhitney mann_whitney(const std::vector<double>& a, const std::vector<double>& b);

// Interval for cur/base without pairing: the ratios c_j/b_i of every pair,
// sorted, cut k from each end, k from the U distribution at alpha (Moses'
// interval around the Hodges-Lehmann shift, on logs), so it leaves out 1
// about when the U test rejects. Too few values for that confidence: the
// whole range of pair ratios; {NaN, NaN} when there is no pair.
std::pair<double, double> moses_ratio_interval(const std::vector<double>& base, const std::vector<double>& cur,
                                               double alpha);

}  // namespace iomodels::harness::stats
