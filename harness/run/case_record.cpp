#include "harness/run/case_record.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace iomodels::harness {
namespace {

using nlohmann::json;

double num_at(const json& j, std::initializer_list<const char*> path, double dflt = 0) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return dflt;
    cur = &(*cur)[k];
  }
  return cur->is_number() ? cur->get<double>() : dflt;
}

std::string fmt(double d) {
  std::ostringstream s;
  s << d;
  return s.str();
}

std::string pct(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g%%", f * 100);
  return buf;
}

// "timeout 3, reset 1": the non-zero entries of an object of counts.
std::string kinds(const json& counts) {
  std::string s;
  for (const auto& [k, v] : counts.items())
    if (v.get<double>() > 0) s += (s.empty() ? "" : ", ") + k + " " + fmt(v.get<double>());
  return s;
}

json diff_object(const json& a, const json& b) {
  json out = json::object();
  for (const auto& [k, v] : b.items()) {
    if (v.is_number()) {
      out[k] = v.get<double>() - num_at(a, {k.c_str()});
      if (v.is_number_integer()) out[k] = v.get<long long>() - static_cast<long long>(num_at(a, {k.c_str()}));
    } else if (v.is_object()) {
      out[k] = diff_object(a.contains(k) ? a[k] : json::object(), v);
    }
  }
  return out;
}

}  // namespace

json new_case_record(const CaseLabel& label, const std::string& group, const CaseParams& p,
                     const std::vector<std::string>& server_args) {
  json r = {{"name", label.name()}, {"server", label.server}, {"variant", label.variant},
            {"case_id", label.case_id}, {"group", group}, {"params", p.to_json()}, {"status", "ok"},
            {"reason", ""}, {"flags", json::object()}, {"repetitions", json::array()}};
  if (!server_args.empty()) r["server_args"] = server_args;
  return r;
}

std::string case_id_of(const json& record) {
  if (record.contains("case_id") && record["case_id"].is_string()) return record["case_id"];
  std::string name = record.value("name", "");
  // Older names: [TIER/]SERVER[VARIANT]/CASE_ID; a variant may hold a '/'.
  if (name.rfind("fixed-load/", 0) == 0) name.erase(0, 11);
  const size_t close = name.find(']');
  const size_t slash = name.find('/', close == std::string::npos ? 0 : close);
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

std::string worse_status(const std::string& a, const std::string& b) {
  auto rank = [](const std::string& s) { return s == "failed" ? 2 : s == "degraded" ? 1 : 0; };
  return rank(b) > rank(a) ? b : a;
}

RepVerdict judge_repetition(const loadgen::RunResult& lg, const CaseParams& p) {
  using loadgen::ErrorKind;
  RepVerdict v;
  // By name, as the loadgen's JSON lists them (nlohmann sorts the keys), so
  // that reasons read as they did when they were taken from the JSON.
  json errors = json::object(), lost_by = json::object();
  for (size_t i = 0; i < loadgen::kErrorNames.size(); ++i) errors[loadgen::kErrorNames[i]] = lg.errors.n[i];
  for (size_t i = 0; i < loadgen::kLostNames.size(); ++i) lost_by[loadgen::kLostNames[i]] = lg.lost.n[i];
  const double requests = static_cast<double>(lg.requests);
  const double lost = static_cast<double>(lg.lost.total());
  const double mismatch = static_cast<double>(lg.errors[ErrorKind::kMismatch]);
  const double errs = static_cast<double>(lg.errors.total());
  const double attempted = requests + lost;

  if (requests <= 0) {
    v.status = "failed";
    v.reason = "no request completed";
  } else if (mismatch > 0) {
    v.status = "failed";
    v.reason = fmt(mismatch) + " replies did not match what was sent";
  } else if (errs > 0 || lost > 0) {
    const double bad = std::max(errs, lost);  // a timeout is one error and >= 1 lost request
    v.status = bad / attempted > kDegradedLimit ? "failed" : "degraded";
    std::string what;
    if (lost > 0) what = fmt(lost) + " requests lost (" + kinds(lost_by) + ")";
    if (errs > 0) what += (what.empty() ? "" : ", ") + fmt(errs) + " errors (" + kinds(errors) + ")";
    v.reason = what + ": " + pct(bad / attempted) + " of " + fmt(attempted) + " requests, " +
               (v.status == "failed" ? "over" : "within") + " the degraded limit of " + pct(kDegradedLimit);
  }

  // loadgen_bound: the busiest loadgen thread's share of a core over the
  // window; a loadgen without that figure (0) gives its threads' average.
  double busiest = lg.thread_cpu_max;
  if (busiest <= 0) {
    const double threads = static_cast<double>(std::max<long>(1, p.loadgen_threads));
    busiest = lg.duration_s > 0 ? (lg.cpu_user_s + lg.cpu_sys_s) / lg.duration_s / threads : 0;
  }
  v.flags["loadgen_cpu_max"] = busiest;
  v.flags["loadgen_bound"] = busiest > kLoadgenBoundCpu;

  bool saturated = false;
  if (p.rate > 0) {
    const double target = lg.target_rate > 0 ? lg.target_rate : p.rate;
    const double achieved = lg.requests_per_s();
    const double late = static_cast<double>(lg.schedule.late_dispatches);
    const double held = std::max(0.0, static_cast<double>(lg.schedule.deferred_sends) - late);
    const double unsent = static_cast<double>(lg.unsent);
    const double due = std::max(1.0, attempted + unsent);
    std::string why;
    if (target > 0 && achieved < kSaturatedAchieved * target)
      why = "achieved " + fmt(static_cast<long long>(achieved)) + " of " + fmt(target) + " req/s offered";
    if (held > kSaturatedHeld * due)
      why += (why.empty() ? "" : ", ") + pct(held / due) + " of sends held back by their connection";
    if (late > kScheduleLate * due)  // the schedule was not kept, whoever was late: no valid figure either
      why += (why.empty() ? "" : ", ") + pct(late / due) + " of sends reached late by the loadgen";
    if (unsent > kSaturatedUnsent * due) why += (why.empty() ? "" : ", ") + pct(unsent / due) + " of due requests unsent";
    saturated = !why.empty();
    if (saturated) v.flags["saturated_reason"] = why;
  }
  v.flags["saturated"] = saturated;
  return v;
}

json stats_delta(const json& start, const json& end) {
  if (!start.is_object() || !end.is_object() || !start.contains("counters") || !end.contains("counters"))
    return nullptr;
  json out = {{"counters", diff_object(start["counters"], end["counters"])}};
  if (start.contains("rusage") && end.contains("rusage")) {
    json ru = diff_object(start["rusage"], end["rusage"]);
    ru.erase("max_rss_kb");  // a high-water mark, not a counter
    out["rusage"] = ru;
  }
  if (end.value("partial", false) || start.value("partial", false)) out["partial"] = true;
  return out;
}

json cost_per_message(const json& window, double cpu_ns, double messages) {
  if (!window.is_object() || messages <= 0) return nullptr;
  const json& c = window["counters"];
  json sys = json::object();
  double total = 0;
  const json syscalls = c.value("syscalls", json::object());
  for (const auto& [k, v] : syscalls.items()) {
    double n = v.get<double>();
    if (n <= 0) continue;
    sys[k] = n / messages;
    total += n;
  }
  json out = {{"messages", messages}, {"syscalls", sys}, {"syscalls_total", total / messages},
              {"wakeups", num_at(c, {"wakeups"}) / messages}, {"events", num_at(c, {"events"}) / messages},
              {"cpu_us", cpu_ns / 1e3 / messages}};
  if (window.contains("rusage"))
    out["context_switches"] = (num_at(window["rusage"], {"voluntary_ctxt_switches"}) +
                               num_at(window["rusage"], {"involuntary_ctxt_switches"})) / messages;
  else
    out["context_switches"] = nullptr;
  return out;
}

}  // namespace iomodels::harness
