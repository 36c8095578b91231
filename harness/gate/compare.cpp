#include "harness/gate/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <stdexcept>

#include "harness/run/case_record.h"
#include "harness/run/results.h"
#include "harness/stats/stats.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

struct Samples {
  std::vector<double> rps, p99, cpu;
};

const json* find_case(const json& run, const std::string& name) {
  for (const auto& c : run.at("cases"))
    if (c.value("name", "") == name) return &c;
  return nullptr;
}

Samples raw_samples(const json& c, std::vector<int>* reps = nullptr) {
  Samples s;
  for (const auto& r : c.at("repetitions")) {
    if (r.value("status", "ok") == "failed") continue;  // kept in run.json for the record only
    s.rps.push_back(rep_metric(r, metric::kRequestsPerS));
    s.p99.push_back(rep_metric(r, metric::kP99Us));
    s.cpu.push_back(rep_metric(r, metric::kServerCpuUsPerRequest));
    if (reps) reps->push_back(r.value("repetition", static_cast<int>(reps->size())));
  }
  return s;
}

double median(std::vector<double> v) { return summarize(std::move(v)).median; }

// Divides each repetition by the reference's repetition with the same index
// (measured moments apart), falling back to the reference's median.
std::vector<double> normalise(const std::vector<double>& v, const std::vector<int>& reps,
                              const std::vector<double>& ref, const std::vector<int>& ref_reps) {
  std::vector<double> out;
  double ref_med = median(ref);
  for (size_t i = 0; i < v.size(); ++i) {
    double d = ref_med;
    for (size_t k = 0; k < ref_reps.size(); ++k)
      if (ref_reps[k] == reps[i]) d = ref[k];
    out.push_back(d > 0 ? v[i] / d : NAN);
  }
  return out;
}

// The case's samples, normalised to the reference unless it is the reference
// (or the reference has no ok run of these parameters).
Samples samples_for(const json& run, const json& c, const std::string& reference, bool& normalised) {
  std::vector<int> reps, ref_reps;
  Samples s = raw_samples(c, &reps);
  normalised = false;
  if (c.value("server", "") == reference) return s;
  const json* ref = find_case(run, CaseLabel{reference, "", case_id_of(c), ""}.name());
  if (!ref || ref->value("status", "") != "ok" || ref->at("repetitions").empty()) return s;
  Samples r = raw_samples(*ref, &ref_reps);
  normalised = true;
  return {normalise(s.rps, reps, r.rps, ref_reps), normalise(s.p99, reps, r.p99, ref_reps),
          normalise(s.cpu, reps, r.cpu, ref_reps)};
}

std::vector<double> finite(const std::vector<double>& v) {
  std::vector<double> out;
  for (double d : v)
    if (std::isfinite(d)) out.push_back(d);
  return out;
}

struct Verdict {
  std::string change = "n/a";
  std::string p = "-";
  bool regressed = false;
  bool improved = false;
  json record;  // iomodels.compare/1 metric: ratio, lo, hi, p, base, head (null: nothing to compare)
};

// higher_is_better: req/s; otherwise p99 and CPU per request.
Verdict judge(const std::vector<double>& base_in, const std::vector<double>& cur_in, bool higher_is_better,
              const CompareOptions& opt) {
  Verdict v;
  auto base = finite(base_in), cur = finite(cur_in);
  if (base.empty() || cur.empty()) return v;
  double b = median(base), c = median(cur);
  if (b <= 0) return v;
  double change = c / b - 1;
  auto [lo, hi] = stats::moses_ratio_interval(base, cur, opt.alpha);
  v.record = {{"ratio", c / b}, {"lo", lo}, {"hi", hi}, {"p", nullptr}, {"base", b}, {"head", c}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", change * 100);
  v.change = buf;
  bool worse = higher_is_better ? change < -opt.threshold : change > opt.threshold;
  bool better = higher_is_better ? change > opt.threshold : change < -opt.threshold;
  // With fewer than 3 repetitions a side, or sizes whose smallest possible
  // p is above alpha (3 vs 3 gives 0.1), no test can confirm anything: then
  // the threshold alone decides, so that a gate with few repetitions still
  // catches a large regression instead of never firing.
  bool testable = false;
  if (base.size() >= 3 && cur.size() >= 3) {
    stats::MannWhitney t = stats::mann_whitney(cur, base);
    std::snprintf(buf, sizeof buf, "%.3f", t.p);
    v.p = buf;
    v.record["p"] = t.p;
    testable = t.min_p <= opt.alpha;
    if (testable) {
      worse = worse && t.p < opt.alpha;
      better = better && t.p < opt.alpha;
    }
  }
  if (!testable && worse) v.p += "*";
  v.regressed = worse;
  v.improved = better;
  return v;
}

// "0.93x>0.97x": the case's paired ratio to the reference (median of the
// per-round ratios) in BASE and in CURRENT; what a reader should look at first.
std::string paired_change(const json& b, const json& c) {
  auto ratio = [](const json& x) -> std::string {
    const json* v = &x;
    for (const char* k : {"aggregate", "paired_ratio", metric::kRequestsPerS, "median"}) {
      if (!v->is_object() || !v->contains(k)) return "-";
      v = &(*v)[k];
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2fx", v->get<double>());
    return buf;
  };
  return ratio(b) + ">" + ratio(c);
}

// " O[1,2]": rounds run in an outlying host-calibration state (either run).
std::string outliers(const json& b, const json& c) {
  std::string s;
  for (const auto* x : {&b, &c}) {
    const json rounds = x->contains("flags") ? (*x)["flags"].value("outlier_rounds", json::array()) : json::array();
    if (!rounds.empty()) s += std::string(s.empty() ? " " : "") + (x == &b ? "O(base)" : "O") + rounds.dump();
  }
  return s;
}

}  // namespace

double parse_threshold(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::logic_error&) {
    throw std::invalid_argument("--threshold: '" + text + "' is not a number like 5% or 0.05");
  }
  std::string rest = text.substr(used);
  if (rest == "%" || (rest.empty() && v >= 1)) v /= 100;
  else if (!rest.empty()) throw std::invalid_argument("--threshold: '" + text + "' is not a number like 5% or 0.05");
  if (!(v > 0) || v >= 1) throw std::invalid_argument("--threshold: must be between 0% and 100%");
  return v;
}

int compare_runs(const json& base, const json& current, const CompareOptions& opt, std::ostream& out,
                 json* record) {
  json cases = json::array();
  auto note = [&](const json& c, const std::string& verdict, const std::string& reason, json metrics) {
    cases.push_back({{"name", c.value("name", "")}, {"server", c.value("server", "")}, {"verdict", verdict},
                     {"reason", reason}, {"metrics", std::move(metrics)}});
  };
  char line[512];
  std::snprintf(line, sizeof line, "%-44s %-13s %-4s %9s %7s %9s %7s %9s %7s  %s\n", "case", "paired x ref", "norm",
                "req/s", "p", "p99", "p", "cpu/req", "p", "verdict");
  out << "threshold " << opt.threshold * 100 << "%, alpha " << opt.alpha << ", reference " << opt.reference
      << " (norm: ref = normalised to it, raw = not normalised)\n"
      << "p: two-sided Mann-Whitney U over repetitions; * = too few repetitions for a test, threshold alone decides\n"
      << "paired x ref: req/s ratio to the reference, median over rounds, BASE>CURRENT; degraded cases are shown,\n"
      << "not gated; O[rounds]: repetitions taken in an outlying host-calibration state\n\n"
      << line;
  int regressions = 0;
  for (const auto& c : current.at("cases")) {
    const std::string name = c.value("name", "");
    const json* b = find_case(base, name);
    const std::string st = c.value("status", ""), bst = b ? b->value("status", "") : "";
    std::string verdict;
    if (!b) {
      verdict = "new (not in BASE)";
      note(c, "only_head", "not in BASE", json::object());
    } else if (st != "ok" || bst != "ok") {
      if (bst == "ok" && st == "failed") {
        verdict = "REGRESSION: failed in CURRENT: " + c.value("reason", "");
        note(c, "failed", "failed in CURRENT: " + c.value("reason", ""), json::object());
        ++regressions;
      } else {
        verdict = "not compared (BASE " + bst + ", CURRENT " + st + ")";
        if (st == "degraded") verdict += ": " + c.value("reason", "");
        note(c, "not gated", verdict, json::object());
      }
    }
    if (!verdict.empty()) {
      std::snprintf(line, sizeof line, "%-44s %s\n", name.c_str(), verdict.c_str());
      out << line;
      continue;
    }
    bool nb = false, nc = false;
    Samples sb = samples_for(base, *b, opt.reference, nb);
    Samples sc = samples_for(current, c, opt.reference, nc);
    if (nb != nc) {  // the reference ran in one run only: compare both raw
      sb = raw_samples(*b);
      sc = raw_samples(c);
      nb = nc = false;
    }
    Verdict rps = judge(sb.rps, sc.rps, true, opt);
    Verdict p99 = judge(sb.p99, sc.p99, false, opt);
    Verdict cpu = judge(sb.cpu, sc.cpu, false, opt);
    bool bad = rps.regressed || p99.regressed || cpu.regressed;
    if (bad) ++regressions;
    std::string why;
    if (rps.regressed) why += " req/s";
    if (p99.regressed) why += " p99";
    if (cpu.regressed) why += " cpu";
    json metrics = json::object();
    for (const auto& [key, v] : {std::pair<const char*, const Verdict*>{metric::kRequestsPerS, &rps}, {metric::kP99Us, &p99},
                                 {metric::kServerCpuUsPerRequest, &cpu}})
      if (!v->record.is_null()) metrics[key] = v->record;
    bool better = !bad && (rps.improved || p99.improved || cpu.improved);
    std::string scale = nc ? "normalised to " + opt.reference : "raw (not normalised)";
    note(c, bad ? "regression" : better ? "improvement" : "unchanged",
         bad ? "worse:" + why + "; " + scale : better ? "better; " + scale : scale, std::move(metrics));
    std::snprintf(line, sizeof line, "%-44s %-13s %-4s %9s %7s %9s %7s %9s %7s  %s%s\n", name.c_str(),
                  paired_change(*b, c).c_str(), nc ? "ref" : "raw", rps.change.c_str(), rps.p.c_str(), p99.change.c_str(), p99.p.c_str(), cpu.change.c_str(),
                  cpu.p.c_str(), bad ? ("REGRESSION:" + why).c_str() : "ok", outliers(*b, c).c_str());
    out << line;
  }
  for (const auto& b : base.at("cases"))
    if (!find_case(current, b.value("name", ""))) {
      out << b.value("name", "") << "  only in BASE\n";
      note(b, "only_base", "not in CURRENT", json::object());
    }
  if (record)
    *record = {{"schema", "iomodels.compare/1"}, {"kind", "compare"}, {"reference", opt.reference},
               {"threshold", opt.threshold}, {"alpha", opt.alpha},
               {"rule", "A regression is a median change worse than the threshold that a two-sided Mann-Whitney U "
                        "test over the rounds confirms (p < alpha) when the round counts allow it (else the "
                        "threshold alone decides), or a case failed after passing. Intervals: the ratios of every "
                        "pair of rounds (one per run), cut at each end by as many as the U test rejects at alpha "
                        "(the whole range when there are too few rounds)"},
               {"cases", std::move(cases)},
               {"regressions", regressions}};
  out << "\n" << (regressions ? std::to_string(regressions) + " regression(s)" : std::string("no regression")) << "\n";
  return regressions ? 1 : 0;
}

}  // namespace iomodels::harness
