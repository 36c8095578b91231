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

struct CompareOptions {
  double threshold = 0.05;        // relative change that counts
  double alpha = 0.05;            // significance level of the U test (stats::mann_whitney)
  std::string reference = "epoll_lt";
};

// Prints the table to `out`; returns 0, or 1 when a case regressed
// significantly beyond the threshold (or failed in CURRENT after passing in BASE).
// With `record`, also fills it with the iomodels.compare/1 document (docs/design.md,
// "Compare and gate documents"; base/head labels are the caller's): per case a verdict (regression,
// failed, improvement, unchanged, not gated, only_base, only_head), a reason and,
// per metric, ratio CURRENT/BASE of the (normalised) medians with an interval
// (lo, hi), the U test's p and both medians.
int compare_runs(const nlohmann::json& base, const nlohmann::json& current, const CompareOptions& opt,
                 std::ostream& out, nlohmann::json* record = nullptr);

// "5%", "5", "0.05" -> 0.05; throws std::invalid_argument.
double parse_threshold(const std::string& text);

}  // namespace iomodels::harness
