#include "harness/run/paired.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "harness/run/case_record.h"
#include "harness/run/results.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

// P(B <= k) for B ~ binomial(n, 1/2).
double binom_cdf_half(size_t n, size_t k) {
  double p = 0, c = 1;  // c = C(n, i)
  for (size_t i = 0; i <= k && i <= n; ++i) {
    p += c;
    c = c * static_cast<double>(n - i) / static_cast<double>(i + 1);
  }
  return p / std::pow(2.0, static_cast<double>(n));
}

// round -> repetition, usable ones only.
std::map<int, const json*> by_round(const json& c) {
  std::map<int, const json*> out;
  if (!c.contains("repetitions")) return out;
  for (const auto& r : c["repetitions"])  // by reference: the map keeps pointers
    if (r.value("status", "ok") != "failed") out[r.value("round", r.value("repetition", 0))] = &r;
  return out;
}

}  // namespace

RatioSummary summarize_ratios(std::vector<double> v) {
  RatioSummary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.min = v.front();
  s.max = v.back();
  size_t k = 1;
  while (k + 1 <= (n + 1) / 2 && binom_cdf_half(n, k) <= 0.025) ++k;
  s.lo = v[k - 1];
  s.hi = v[n - k];
  s.confidence = 1 - 2 * binom_cdf_half(n, k - 1);
  return s;
}

void add_paired_ratios(json& cases, const std::string& reference) {
  // The reference of a case: the reference server's case with the same
  // parameters in the same group (a variant group's own copy), else in any
  // group. An A/A copy is never anyone's reference, it is compared like a model.
  std::map<std::string, const json*> refs, group_refs;
  for (const auto& c : cases)
    if (c.value("server", "") == reference && !c.value("aa", false)) {
      if (c.value("role", "") != "group_reference") refs.emplace(case_id_of(c), &c);
      group_refs[c.value("group", "") + "\n" + case_id_of(c)] = &c;
    }
  for (auto& c : cases) {
    bool bound = false, saturated = false, late = false;
    int client_limited = 0, co_saturated = 0;
    for (const auto& r : c.value("repetitions", json::array())) {
      if (!r.contains("flags")) continue;
      client_limited += r["flags"].value("client_limited", false) ? 1 : 0;
      co_saturated += r["flags"].value("co_saturated", false) ? 1 : 0;
      bound = bound || r["flags"].value("loadgen_bound", false);
      saturated = saturated || r["flags"].value("saturated", false);
      late = late || r["flags"].value("window_late", false);
    }
    c["flags"]["loadgen_bound"] = bound;
    c["flags"]["saturated"] = saturated;
    c["flags"]["window_late"] = late;
    // Any round, as loadgen_bound; the counts say how many of them.
    c["flags"]["client_limited"] = client_limited > 0;
    c["flags"]["co_saturated"] = co_saturated > 0;
    c["flags"]["client_limited_rounds"] = client_limited;
    c["flags"]["co_saturated_rounds"] = co_saturated;

    const json* ref = nullptr;
    if (auto g = group_refs.find(c.value("group", "") + "\n" + case_id_of(c)); g != group_refs.end()) ref = g->second;
    else if (auto a = refs.find(case_id_of(c)); a != refs.end()) ref = a->second;
    if (!ref) continue;
    auto mine = by_round(c), theirs = by_round(*ref);
    json pr = {{"reference", reference}};
    bool any = false;
    for (const char* m : {metric::kRequestsPerS, metric::kServerCpuUsPerRequest, metric::kP99Us}) {
      std::vector<double> ratios;
      for (const auto& [round, rep] : mine) {
        auto other = theirs.find(round);
        if (other == theirs.end()) continue;
        const double a = rep_metric(*rep, m), b = rep_metric(*other->second, m);
        if (std::isfinite(a) && b > 0) ratios.push_back(a / b);
      }
      if (ratios.empty()) continue;
      RatioSummary s = summarize_ratios(ratios);
      pr[m] = {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"lo", s.lo}, {"hi", s.hi},
               {"confidence", s.confidence}, {"n", s.n}};
      any = true;
    }
    if (any) c["aggregate"]["paired_ratio"] = pr;
  }
}

}  // namespace iomodels::harness
