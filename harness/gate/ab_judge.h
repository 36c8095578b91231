// The verdict of `harness ab`: per case, the ratio head/base of each metric
// with its confidence interval, paired by repetition, and whether it is a
// regression. Pure functions of two run documents, so they are unit-tested
// without running anything.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

// A known cost let through: `Perf-accepted: <case>: <reason>` in the head
// commit's message, or --accept. The pattern is a glob (fnmatch) over case names.
struct Accepted {
  std::string pattern;
  std::string reason;
};

struct JudgeOptions {
  double cpu_threshold = 0.05;   // server CPU ns per request: primary
  double p99_threshold = 0.10;   // p99 latency: secondary, gated
  // The fixed-load tier (suite group "fixed-load": the same offered rate for
  // base and head, many short pairs): CPU per message only, its own threshold.
  // +3%: quiet A/A intervals are +-1-2% at 40k req/s, and one A/A run beside
  // a sanitizer build had a lower end of +2.1%, which +2% flagged.
  double fixed_load_cpu_threshold = 0.03;
  double confidence = 0.95;      // two-sided; the one-sided test runs at (1 - confidence) / 2
  int min_pairs = 6;             // fewer usable pairs: reported, not gated
  std::vector<Accepted> accepted;
};

// Parses every "Perf-accepted: CASE: REASON" line of a commit message.
std::vector<Accepted> parse_perf_accepted(const std::string& message);

// base and head are run documents (iomodels.run) of the same suite whose
// repetitions carry "repetition" (the round): repetition r of a case in base
// pairs with repetition r of the same case in head. Returns the ab.json
// "cases" array and "summary" ({"regressions", "accepted", "gated", ...}).
nlohmann::json judge_ab(const nlohmann::json& base, const nlohmann::json& head, const JudgeOptions& opt);

// The table for people and CI logs.
void print_ab(const nlohmann::json& verdict, std::ostream& out);

}  // namespace iomodels::harness
