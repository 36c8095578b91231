#include "harness/gate/ab_deterministic.h"

#include <fnmatch.h>

#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>

namespace iomodels::harness {
namespace {

using nlohmann::json;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// x at path, or NAN when absent, unavailable or not a number.
double at(const json& j, const char* a, const char* b) {
  if (!j.is_object() || !j.contains(a) || !j[a].is_object() || !j[a].contains(b) || !j[a][b].is_number()) return NAN;
  return j[a][b].get<double>();
}

const json* syscalls_of(const json& cost) {
  if (!cost.contains("kernel_syscalls") || !cost["kernel_syscalls"].is_object()) return nullptr;
  const json& k = cost["kernel_syscalls"];
  return k.contains("per_message") && k["per_message"].is_object() ? &k["per_message"] : nullptr;
}

}  // namespace

json judge_deterministic(const json& base, const json& head, const std::vector<Accepted>& accepted,
                         const DeterministicThresholds& t) {
  json cases = json::array();
  int regressions = 0, accepted_n = 0, gated = 0;
  for (const auto& [name, hc] : head.items()) {
    json out = {{"name", name}, {"verdict", "ok"}, {"reasons", json::array()}};
    if (!base.contains(name)) {
      out["verdict"] = "not gated";
      out["reasons"].push_back("new in head");
      cases.push_back(out);
      continue;
    }
    const json& bc = base[name];
    bool measured = false;
    // Instructions per message.
    const double bi = at(bc, "callgrind", "instructions_per_message"), hi = at(hc, "callgrind", "instructions_per_message");
    if (std::isfinite(bi) && std::isfinite(hi) && bi > 0) {
      measured = true;
      out["instructions"] = {{"base", bi}, {"head", hi}, {"ratio", hi / bi}};
      if (hi / bi > 1 + t.instructions_ratio)
        out["reasons"].push_back("instructions/msg x" + fmt("%.3f", hi / bi) + " (" + fmt("%.0f", bi) + " -> " +
                                 fmt("%.0f", hi) + ", over +" + fmt("%g", t.instructions_ratio * 100) + "%)");
    }
    // Syscalls per message, by name.
    const json *bs = syscalls_of(bc), *hs = syscalls_of(hc);
    if (bs && hs) {
      measured = true;
      json sc = json::object();
      std::set<std::string> names;
      for (const auto& [k, v] : bs->items()) names.insert(k);
      for (const auto& [k, v] : hs->items()) names.insert(k);
      for (const auto& n : names) {
        const double b = bs->contains(n) ? (*bs)[n].get<double>() : 0, h = hs->contains(n) ? (*hs)[n].get<double>() : 0;
        sc[n] = {{"base", b}, {"head", h}};
        if (b == 0 && h >= t.syscalls_new)
          out["reasons"].push_back("new syscall " + n + " " + fmt("%.2f", h) + "/msg");
        else if (b > 0 && h - b >= t.syscalls_increase)
          out["reasons"].push_back(n + " " + fmt("%.2f", b) + " -> " + fmt("%.2f", h) + "/msg");
      }
      out["syscalls"] = sc;
    }
    // Heap allocations per message.
    if (bc.contains("allocations_per_message") && hc.contains("allocations_per_message") &&
        bc["allocations_per_message"].is_number() && hc["allocations_per_message"].is_number()) {
      measured = true;
      const double b = bc["allocations_per_message"], h = hc["allocations_per_message"];
      out["allocations"] = {{"base", b}, {"head", h}};
      if (h - b >= t.allocations_increase)
        out["reasons"].push_back("allocations " + fmt("%.3f", b) + " -> " + fmt("%.3f", h) + "/msg");
    }
    if (!measured) {
      out["verdict"] = "not gated";
      out["reasons"].push_back("no figure measured on both sides");
    } else {
      ++gated;
      if (!out["reasons"].empty()) {
        out["verdict"] = "regression";
        for (const auto& a : accepted)
          if (::fnmatch(a.pattern.c_str(), name.c_str(), 0) == 0) {
            out["verdict"] = "accepted";
            out["accepted_reason"] = a.reason;
            break;
          }
        (out["verdict"] == "regression" ? regressions : accepted_n)++;
      }
    }
    cases.push_back(out);
  }
  return {{"tier", "deterministic"},
          {"cases", cases},
          {"summary",
           {{"regressions", regressions}, {"accepted", accepted_n}, {"gated", gated}, {"cases", cases.size()},
            {"thresholds",
             {{"instructions_ratio", t.instructions_ratio}, {"syscalls_increase", t.syscalls_increase},
              {"syscalls_new", t.syscalls_new}, {"allocations_increase", t.allocations_increase}}}}}};
}

json confirm_deterministic(json first, const json& base2, const json& head2, const json& base1,
                           const std::vector<Accepted>& accepted, const DeterministicThresholds& t) {
  json& s = first["summary"];
  for (json& c : first["cases"]) {
    const std::string verdict = c["verdict"];
    if (verdict != "regression" && verdict != "accepted") continue;
    const std::string name = c["name"];
    const auto only = [&](const json& side) { return side.contains(name) ? json{{name, side[name]}} : json::object(); };
    const auto reasons = [](const json& v) {
      std::string all;
      for (const auto& cs : v.at("cases"))
        for (const auto& r : cs["reasons"]) all += (all.empty() ? "" : "; ") + r.get<std::string>();
      return all;
    };
    // Base against itself, both ways: any flag means the figure moves with timing.
    std::string unstable = reasons(judge_deterministic(only(base1), only(base2), {}, t));
    if (const std::string back = reasons(judge_deterministic(only(base2), only(base1), {}, t)); !back.empty())
      unstable += (unstable.empty() ? "" : "; ") + back;
    const json again = judge_deterministic(only(base2), only(head2), accepted, t);
    const bool repeated = !again["cases"].empty() && again["cases"][0]["verdict"] == verdict;
    const char* count = verdict == "regression" ? "regressions" : "accepted";
    if (!unstable.empty()) {
      s[count] = s[count].get<int>() - 1;
      s["gated"] = s["gated"].get<int>() - 1;
      c["verdict"] = "not gated";
      c["reasons"] = json::array({"base varies between two runs (" + unstable + "): a timing-dependent figure"});
    } else if (!repeated) {
      s[count] = s[count].get<int>() - 1;
      c["verdict"] = "ok";
      c["reasons"] = json::array({"flagged once, not reproduced by a second base/head pair"});
    } else {
      c["confirmed"] = true;
    }
  }
  return first;
}

void print_deterministic(const json& v, std::ostream& out) {
  const std::string tier = v.value("tier", "deterministic");
  out << tier << " tier (callgrind instructions, kernel-counted syscalls, allocations per message at fixed request "
      << "counts" << (tier == "baseline" ? "; head against results/baselines" : "; head against base")
      << "): regression = instructions over +1%, a syscall +0.02/msg or new at 0.01/msg, allocations +0.01/msg\n";
  if (v.contains("not_comparable")) out << tier << ": " << v["not_comparable"].get<std::string>() << "\n";
  for (const auto& c : v.at("cases")) {
    std::string line = c.value("name", "") + "  ";
    if (c.contains("instructions")) line += "instr/msg " + fmt("%.0f", c["instructions"]["base"].get<double>()) +
                                            " -> " + fmt("%.0f", c["instructions"]["head"].get<double>()) + "  ";
    line += c.value("verdict", "");
    std::string why;
    for (const auto& r : c["reasons"]) why += (why.empty() ? "" : "; ") + r.get<std::string>();
    if (!why.empty()) line += ": " + why;
    if (c.contains("accepted_reason")) line += " (Perf-accepted: " + c["accepted_reason"].get<std::string>() + ")";
    out << line << "\n";
  }
  const json& s = v.at("summary");
  out << tier << ": " << s.value("gated", 0) << " of " << s.value("cases", 0) << " cases gated; "
      << s.value("regressions", 0) << " regression(s)\n";
}

}  // namespace iomodels::harness
