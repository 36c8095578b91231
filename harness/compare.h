// `harness compare BASE CURRENT`: the regression gate.
//
// Each metric of a case is first divided by the same metric of the reference
// server's case with the same parameters in the same run (repetition by
// repetition, since repetitions are interleaved and so measured side by side),
// so a machine that is 20% slower today moves both and cancels. The reference
// server's own cases cannot be normalised and are compared raw.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

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

struct CompareOptions {
  double threshold = 0.05;        // relative change that counts
  double alpha = 0.05;            // significance level of the U test
  std::string reference = "epoll_lt";
};

// Prints the table to `out`; returns 0, or 1 when a case regressed
// significantly beyond the threshold (or failed in CURRENT after passing in BASE).
int compare_runs(const nlohmann::json& base, const nlohmann::json& current, const CompareOptions& opt,
                 std::ostream& out);

// "5%", "5", "0.05" -> 0.05; throws std::invalid_argument.
double parse_threshold(const std::string& text);

}  // namespace iomodels::harness
