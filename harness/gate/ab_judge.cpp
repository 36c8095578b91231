#include "harness/gate/ab_judge.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <ostream>
#include <regex>
#include <sstream>

#include "harness/run/results.h"
#include "harness/stats/stats.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

struct Metric {
  const char* key;        // in ab.json
  const char* label;      // in the table
  bool gated;
  bool higher_is_worse;
};
// CPU per request first: it is what a code change moves, and unlike req/s and
// latency it hardly depends on how busy the other CPU is.
constexpr Metric kMetrics[] = {
    {"cpu_ns_per_request", "cpu/req", true, true},
    {metric::kP99Us, "p99", true, true},
    {metric::kRequestsPerS, "req/s", false, false},
};

// CPU per request in ns: the process-clock figure when the run has it, else
// the /proc tick figure (10 ms resolution), which older runs carry.
double cpu_ns(const json& rep, bool ticks) {
  if (!ticks) return rep_metric(rep, metric::kServerCpuNsPerRequest);
  return rep_metric(rep, metric::kServerCpuUsPerRequest) * 1000;
}

double metric_value(const json& rep, const std::string& key, bool ticks) {
  if (key == "cpu_ns_per_request") return cpu_ns(rep, ticks);
  return rep_metric(rep, key);
}

// A repetition the gate may use: ok, or from a run that predates per-repetition status.
bool usable(const json& rep) { return rep.value("status", std::string("ok")) == "ok"; }

std::map<int, const json*> by_round(const json& c) {
  std::map<int, const json*> out;
  if (!c.contains("repetitions") || !c["repetitions"].is_array()) return out;
  int i = 0;
  for (const auto& r : c["repetitions"]) {
    int round = r.value("repetition", r.value("round", i));
    ++i;
    if (usable(r)) out[round] = &r;
  }
  return out;
}

// A case fails when any round does. On a loaded machine one round can starve
// (no request in a short window) on either side, so one failed round is noise
// to drop; a head that fails in this many rounds while base never does is a
// regression of its own.
constexpr int kFailedRoundsRegression = 2;

int failed_rounds(const json& c) {
  return c.contains("failures") && c["failures"].is_array() ? static_cast<int>(c["failures"].size())
                                                            : (c.value("status", "") == "failed" ? 1 : 0);
}

const json* find_case(const json& run, const std::string& name) {
  for (const auto& c : run.at("cases"))
    if (c.value("name", "") == name) return &c;
  return nullptr;
}

const Accepted* accepted_for(const std::string& name, const JudgeOptions& opt) {
  for (const auto& a : opt.accepted)
    if (::fnmatch(a.pattern.c_str(), name.c_str(), 0) == 0) return &a;
  return nullptr;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

std::vector<Accepted> parse_perf_accepted(const std::string& message) {
  // "Perf-accepted: epoll_lt/echo/c16/s64: one more syscall per message, for X"
  static const std::regex line_re(R"(^\s*Perf-accepted:\s*([^:\s][^:]*?)\s*:\s*(\S.*?)\s*$)", std::regex::icase);
  std::vector<Accepted> out;
  std::istringstream in(message);
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, line_re)) out.push_back({m[1], m[2]});
  return out;
}

namespace {

// Per gated metric family ("metric", or "fixed-load/metric" for the
// fixed-load tier), the cases whose p-values enter Holm's correction; and per
// (case, metric), log(head/base) of each pair.
using Families = std::map<std::string, std::vector<std::pair<size_t, double>>>;
using PairDiffs = std::map<std::pair<size_t, std::string>, std::vector<double>>;

// A family is "metric" (capacity) or "fixed-load/metric".
std::string metric_of(const std::string& family_key) { return family_key.substr(family_key.rfind('/') + 1); }

// One head case against base's case of the same name: its verdict before
// Holm's correction, its metrics paired by round. `index` is its place in
// the verdict's cases.
json judge_case(const json& hc, const json& base, const JudgeOptions& opt, size_t index, Families& family,
                PairDiffs& diffs) {
  const std::string name = hc.value("name", "");
  // Cases of the suite group "fixed-load" (an open-loop rate, the same for
  // both sides) are the fixed-load tier: their own Holm family, their own
  // threshold, CPU per message only. The rest is the capacity tier.
  const bool fixed = hc.value("group", "") == "fixed-load";
  json out = {{"name", name}, {"tier", fixed ? "fixed-load" : "capacity"}, {"server", hc.value("server", "")},
              {"head_status", hc.value("status", "")},
              {"verdict", "not gated"}, {"reason", ""}, {"pairs", 0}, {"metrics", json::object()}};
  const json* bc = find_case(base, name);
  const std::string hs = hc.value("status", ""), bs = bc ? bc->value("status", "") : "";
  out["base_status"] = bs;
  if (!bc) {
    out["reason"] = "new in head (base does not have this server or case)";
  } else if (hs == "failed" && bs == "ok" && failed_rounds(hc) >= kFailedRoundsRegression) {
    out["verdict"] = "regression";
    out["reason"] = "failed in head in " + std::to_string(failed_rounds(hc)) + " rounds: " + hc.value("reason", "");
  } else if ((hs != "ok" && hs != "failed") || (bs != "ok" && bs != "failed")) {
    // Degraded cases lost requests or saw errors: their figures are not about speed.
    out["reason"] = "base " + bs + ", head " + hs + (hs != "ok" ? ": " + hc.value("reason", "")
                                                                : ": " + bc->value("reason", ""));
  } else {
    auto b = by_round(*bc), h = by_round(hc);
    std::vector<int> rounds;
    for (const auto& [r, rep] : h)
      if (b.count(r)) rounds.push_back(r);
    bool ticks = false;
    for (int r : rounds)
      if (!std::isfinite(cpu_ns(*b[r], false)) || !std::isfinite(cpu_ns(*h[r], false))) ticks = true;
    out["pairs"] = rounds.size();
    out["cpu_source"] = ticks ? "ticks (10 ms /proc figure: a side has no ns CPU)" : "ns (process CPU clock)";
    bool enough = static_cast<int>(rounds.size()) >= opt.min_pairs;
    if (!enough)
      out["reason"] = std::to_string(rounds.size()) + " usable pairs, fewer than " + std::to_string(opt.min_pairs);
    else
      out["verdict"] = "ok";
    if (hs == "failed" || bs == "failed") {  // a round or two lost to a starved machine: dropped, said
      std::string why = out["reason"].get<std::string>();
      out["reason"] = why + (why.empty() ? "" : "; ") + "failed rounds dropped (base " +
                      std::to_string(failed_rounds(*bc)) + ", head " + std::to_string(failed_rounds(hc)) + ")";
    }
    for (const auto& m : kMetrics) {
      std::vector<double> d, bv, hv;
      for (int r : rounds) {
        double x = metric_value(*b[r], m.key, ticks), y = metric_value(*h[r], m.key, ticks);
        if (!(x > 0) || !(y > 0)) continue;
        bv.push_back(x);
        hv.push_back(y);
        d.push_back(std::log(y / x));
      }
      auto ci = stats::hodges_lehmann(d, opt.confidence);
      const bool cpu = m.key == std::string("cpu_ns_per_request");
      const bool gated_here = m.gated && (!fixed || cpu);
      const double thr = cpu && fixed ? opt.fixed_load_cpu_threshold
                         : cpu        ? opt.cpu_threshold
                         : m.key == std::string("p99_us")           ? opt.p99_threshold
                                                                    : 0;
      diffs[{index, m.key}] = d;
      json mj = {{"base_median", stats::median(bv)}, {"head_median", stats::median(hv)}, {"pairs", d.size()},
                 {"ratio", std::exp(ci.estimate)}, {"lo", std::isfinite(ci.lo) ? std::exp(ci.lo) : NAN},
                 {"hi", std::isfinite(ci.hi) ? std::exp(ci.hi) : NAN},
                 {"gated", gated_here && enough}};
      if (gated_here) {
        mj["threshold"] = thr;
        // One-sided: is the centre of log(head/base) above log(1 + threshold)?
        double p = stats::signed_rank_p_greater(d, std::log1p(thr));
        mj["p"] = p;
        mj["past_threshold"] = std::isfinite(ci.lo) && std::exp(ci.lo) > 1 + thr;
        if (enough) family[fixed ? std::string("fixed-load/") + m.key : std::string(m.key)].push_back({index, p});
      }
      for (const char* k : {"base_median", "head_median", "ratio", "lo", "hi"})
        if (!std::isfinite(mj[k].get<double>())) mj[k] = nullptr;
      out["metrics"][m.key] = mj;
    }
  }
  return out;
}

// The gate's power, before any figure: an exact signed-rank p over n pairs
// is at least 1/2^n, and Holm multiplies the smallest by the number of
// cases. When m/2^n is above alpha not even a slowdown in every round can be
// flagged (10 rounds over 15 cases: 0.0146 needs all 10 rounds slower, one
// noisy round gives 0.029 > 0.025, which hid a real +22% once).
json gate_power(const Families& family, const json& cases, double alpha_one_sided) {
  json power = json::object();
  for (const auto& [key, members] : family) {
    size_t n = SIZE_MAX;
    for (const auto& [i, pv] : members)
      n = std::min(n, cases[i]["metrics"][metric_of(key)]["pairs"].get<size_t>());
    const double best = static_cast<double>(members.size()) / std::pow(2.0, static_cast<double>(n));
    int rounds_needed = 1;  // for a one-round slip (the two smallest ranks' worth of room: p = 4/2^n)
    while (static_cast<double>(members.size()) * 4 / std::pow(2.0, rounds_needed) > alpha_one_sided) ++rounds_needed;
    power[key] = {{"cases", members.size()}, {"pairs", n}, {"smallest_p_holm", best},
                  {"can_flag", best <= alpha_one_sided}, {"rounds_for_one_noisy_round", rounds_needed}};
  }
  return power;
}

// Holm's correction per family: each case's adjusted p, its interval at its
// Holm level, and the regression verdicts.
void apply_holm(const Families& family, PairDiffs& diffs, json& cases, double alpha_one_sided) {
  for (const auto& [key, members] : family) {
    std::vector<double> p;
    for (const auto& [i, pv] : members) p.push_back(pv);
    auto adj = stats::holm_adjust(p);
    // Holm tests the case of rank j (0 = smallest p) at alpha / (m - j): the
    // interval printed is the one at that level, so that "interval wholly
    // above the threshold" and the verdict are one rule, not two.
    std::vector<size_t> order(members.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return p[x] < p[y]; });
    for (size_t j = 0; j < order.size(); ++j) {
      const size_t k = order[j];
      json& mj = cases[members[k].first]["metrics"][metric_of(key)];
      const double level = 1 - 2 * alpha_one_sided / static_cast<double>(members.size() - j);
      auto ci = stats::hodges_lehmann(diffs[{members[k].first, metric_of(key)}], level);
      mj["interval_level"] = level;
      mj["lo"] = std::isfinite(ci.lo) ? json(std::exp(ci.lo)) : json(nullptr);
      mj["hi"] = std::isfinite(ci.hi) ? json(std::exp(ci.hi)) : json(nullptr);
      mj["past_threshold"] = std::isfinite(ci.lo) && std::exp(ci.lo) > 1 + mj["threshold"].get<double>();
    }
    for (size_t k = 0; k < members.size(); ++k) {
      json& mj = cases[members[k].first]["metrics"][metric_of(key)];
      mj["p_holm"] = adj[k];
      mj["regression"] = adj[k] <= alpha_one_sided;
      if (adj[k] <= alpha_one_sided) {
        json& c = cases[members[k].first];
        c["verdict"] = "regression";
        std::string why = c["reason"].get<std::string>();
        c["reason"] = why + (why.empty() ? "" : ", ") + key + " x" + fmt("%.3f", mj["ratio"].get<double>());
      }
    }
  }
}

// Verdict counts per tier and in all; Perf-accepted turns a regression into "accepted".
json tally(json& cases, const JudgeOptions& opt) {
  int regressions = 0, accepted = 0, gated = 0;
  json tiers = json::object();
  for (auto& c : cases) {
    json& t = tiers[c["tier"].get<std::string>()];
    if (t.is_null()) t = {{"regressions", 0}, {"accepted", 0}, {"gated", 0}, {"cases", 0}};
    t["cases"] = t["cases"].get<int>() + 1;
    if (c["verdict"] == "regression") {
      // Per tier: the pattern matches the case name, and fixed-load cases are
      // named "fixed-load/...", so "epoll_lt/*" lets the capacity tier through only.
      if (const Accepted* a = accepted_for(c["name"], opt)) {
        c["verdict"] = "accepted";
        c["accepted_reason"] = a->reason;
        ++accepted;
        t["accepted"] = t["accepted"].get<int>() + 1;
      } else {
        ++regressions;
        t["regressions"] = t["regressions"].get<int>() + 1;
      }
    }
    if (c["verdict"] != "not gated") {
      ++gated;
      t["gated"] = t["gated"].get<int>() + 1;
    }
  }
  return {{"regressions", regressions}, {"accepted", accepted}, {"gated", gated}, {"tiers", tiers}};
}

}  // namespace

json judge_ab(const json& base, const json& head, const JudgeOptions& opt) {
  const double alpha_one_sided = (1 - opt.confidence) / 2;
  json cases = json::array();
  Families family;
  PairDiffs diffs;
  for (const auto& hc : head.at("cases")) cases.push_back(judge_case(hc, base, opt, cases.size(), family, diffs));
  const json power = gate_power(family, cases, alpha_one_sided);
  apply_holm(family, diffs, cases, alpha_one_sided);
  json summary = tally(cases, opt);
  summary.update({{"cases", cases.size()}, {"confidence", opt.confidence},
                  {"cpu_threshold", opt.cpu_threshold}, {"p99_threshold", opt.p99_threshold},
                  {"alpha_one_sided", alpha_one_sided}, {"power", power},
                  {"correction", "holm"},
                  {"interval", "hodges-lehmann, paired by round, at each case's Holm level"}});
  return {{"cases", cases}, {"summary", summary}};
}

void print_ab(const json& verdict, std::ostream& out) {
  const json& s = verdict.at("summary");
  out << "ratio head/base, paired by round: Hodges-Lehmann estimate [interval at the Holm level: "
      << s.value("confidence", 0.95) * 100 << "% for one case, wider among many]; regression = interval wholly above +"
      << s.value("cpu_threshold", 0.0) * 100 << "% CPU/request or +" << s.value("p99_threshold", 0.0) * 100
      << "% p99 (Holm-adjusted one-sided p <= " << s.value("alpha_one_sided", 0.025) << ")\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-40s %5s  %-24s %-24s %-7s %s\n", "case", "pairs", "cpu ns/req",
                "p99", "req/s", "verdict");
  out << line;
  auto cell = [](const json& c, const char* key) -> std::string {
    if (!c.contains("metrics") || !c["metrics"].contains(key)) return "-";
    const json& m = c["metrics"][key];
    if (m["ratio"].is_null()) return "-";
    std::string text = fmt("%.3f", m["ratio"].get<double>());
    if (std::string(key) == metric::kRequestsPerS) return text;
    text += " [" + (m["lo"].is_null() ? std::string("-inf") : fmt("%.3f", m["lo"].get<double>())) + ", " +
         (m["hi"].is_null() ? std::string("inf") : fmt("%.3f", m["hi"].get<double>())) + "]";
    if (m.value("regression", false)) text += "!";
    return text;
  };
  for (const auto& c : verdict.at("cases")) {
    std::string v = c.value("verdict", "");
    if (v == "accepted") v += " (Perf-accepted: " + c.value("accepted_reason", "") + ")";
    std::string why = c.value("reason", "");
    if (!why.empty()) v += ": " + why;
    std::snprintf(line, sizeof line, "%-40s %5d  %-24s %-24s %-7s %s\n", c.value("name", "").c_str(),
                  c.value("pairs", 0), cell(c, "cpu_ns_per_request").c_str(), cell(c, metric::kP99Us).c_str(),
                  cell(c, metric::kRequestsPerS).c_str(), v.c_str());
    out << line;
  }
  out << "\n" << s.value("gated", 0) << " of " << s.value("cases", 0) << " cases gated; "
      << s.value("regressions", 0) << " regression(s)";
  if (s.value("accepted", 0) > 0) out << ", " << s.value("accepted", 0) << " accepted by Perf-accepted";
  out << "\n";
  if (s.contains("tiers"))
    for (const auto& [tier, t] : s["tiers"].items())
      out << "tier " << tier << ": " << t.value("gated", 0) << " of " << t.value("cases", 0) << " cases gated, "
          << t.value("regressions", 0) << " regression(s)" << (t.value("regressions", 0) > 0 ? "  <-- FAILS" : "")
          << "\n";
  if (s.contains("power"))
    for (const auto& [key, pw] : s["power"].items())
      if (!pw.value("can_flag", true))
        out << "WARNING: " << key << ": " << pw.value("pairs", 0) << " pairs over " << pw.value("cases", 0)
            << " cases: the smallest Holm-adjusted p is " << fmt("%.4f", pw.value("smallest_p_holm", 1.0))
            << " > " << fmt("%.4f", s.value("alpha_one_sided", 0.025))
            << ", so this run cannot flag any regression; give the suite at least "
            << pw.value("rounds_for_one_noisy_round", 0) << " repetitions\n";
}

}  // namespace iomodels::harness
