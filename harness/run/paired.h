// Ratios to the reference server paired by round. Rounds are interleaved
// (every server of a round runs within a minute or so), so a host that is
// 2-4x slower in one round than in the next moves every server of that round
// alike: the ratio within a round survives, the absolute figure does not.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

struct RatioSummary {
  double median = 0, min = 0, max = 0;
  // A distribution-free interval for the median from order statistics:
  // [x(k), x(n-k+1)] with the largest k whose binomial(n, 1/2) tail
  // P(B <= k-1) stays <= 2.5%; with n <= 5 no such k exists and the interval
  // is [min, max]. `confidence` = 1 - 2 P(B <= k-1) says what it is worth
  // (0.75 for n = 3, 0.9375 for n = 5, >= 0.95 from n = 6).
  double lo = 0, hi = 0, confidence = 0;
  size_t n = 0;
};
RatioSummary summarize_ratios(std::vector<double> v);

// Fills cases[i].aggregate.paired_ratio for every case whose reference case
// (same parameters, server `reference`) has a usable repetition in a common
// round, and the case-level flags (loadgen_bound, saturated: any repetition).
void add_paired_ratios(nlohmann::json& cases, const std::string& reference = "epoll_lt");

}  // namespace iomodels::harness
