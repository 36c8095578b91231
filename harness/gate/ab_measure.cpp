#include "harness/gate/ab_measure.h"

#include <unistd.h>

#include <algorithm>
#include <ostream>

#include "core/atomic_file.h"
#include "harness/gate/ab_deterministic.h"

#if __has_include("harness/cost/probe.h")
#include "harness/cost/probe.h"
#define IOMODELS_HAVE_COST_PROBES 1
#endif

namespace iomodels::harness {

using nlohmann::json;

#ifndef IOMODELS_HAVE_COST_PROBES
// Built without the cost probes (harness/cost/probe.h): every figure unavailable,
// so the tier says why and gates nothing.
json measure_deterministic(const std::string&, const std::vector<std::string>& servers, const DeterministicPlan&,
                           std::ostream&) {
  json out = json::object();
  for (const auto& s : servers)
    out["deterministic/" + s] = {{"kernel_syscalls", {{"unavailable", "this harness was built without harness/cost"}}}};
  return out;
}
#else
json measure_deterministic(const std::string& bin_dir, const std::vector<std::string>& servers,
                           const DeterministicPlan& plan, std::ostream& progress) {
  json out = json::object();
  for (const auto& server : servers) {
    const std::string path = bin_dir + "/" + server;
    if (::access(path.c_str(), X_OK) != 0) continue;  // not built on this side: not compared
    for (int c : plan.connections) {
      cost::CostProbe p;
      p.server_path = path;
      p.loadgen_path = bin_dir + "/loadgen";
      p.connections = c;
      p.requests_low = plan.requests_low;
      p.requests_high = plan.requests_high;
      p.server_cpus = plan.server_cpus;
      p.loadgen_cpus = plan.loadgen_cpus;
      p.log_dir = plan.log_dir;
      json figures = json::object();
      cost::SyscallResult s = cost::kernel_syscalls_per_message(p);
      figures["kernel_syscalls"] = s.error.empty() ? json{{"per_message", s.per_message}} : json{{"unavailable", s.error}};
      // valgrind 3.19 cannot run the io_uring models (the first run never
      // finishes): asking would cost minutes of timeouts per side.
      const bool valgrind_runs_it = server.rfind("io_uring", 0) != 0;
      if (plan.callgrind && c == plan.callgrind_connections && !valgrind_runs_it)
        figures["callgrind"] = json{{"unavailable", "valgrind 3.19 cannot run io_uring servers"}};
      if (plan.callgrind && c == plan.callgrind_connections && valgrind_runs_it) {
        p.requests_low = plan.callgrind_low;
        p.requests_high = plan.callgrind_high;
        cost::CallgrindResult r = cost::callgrind_per_message(p);
        figures["callgrind"] = r.error.empty() ? json{{"instructions_per_message", r.instructions_per_message}}
                                            : json{{"unavailable", r.error}};
      }
      out["deterministic/" + server + "/" + cost::probe_key(p)] = figures;
      progress << "." << std::flush;
    }
  }
  progress << "\n";
  return out;
}
#endif

DeterministicTier run_deterministic_tier(DeterministicPlan plan, const std::string& base_bin,
                                         const std::string& head_bin, const std::vector<std::string>& servers,
                                         const std::vector<Accepted>& accepted, const std::string& out_dir,
                                         std::ostream& progress) {
  const auto measure = [&](const char* side, const std::string& bin, const std::vector<std::string>& which,
                           const std::string& logs) {
    progress << "harness ab: deterministic tier: " << side << " " << std::flush;
    plan.log_dir = out_dir + "/" + logs;
    return measure_deterministic(bin, which, plan, progress);
  };
  DeterministicTier t;
  t.head_costs = measure("head", head_bin, servers, "head/logs/deterministic");
  write_file_atomic(out_dir + "/head/deterministic.json", t.head_costs.dump(1) + "\n");
  if (base_bin.empty()) return t;
  const json base_costs = measure("base", base_bin, servers, "base/logs/deterministic");
  write_file_atomic(out_dir + "/base/deterministic.json", base_costs.dump(1) + "\n");
  t.verdict = judge_deterministic(base_costs, t.head_costs, accepted);

  std::vector<std::string> again;  // servers with a flagged case
  for (const auto& c : t.verdict["cases"]) {
    if (c["verdict"] != "regression" && c["verdict"] != "accepted") continue;
    for (const auto& s : servers)
      if (c["name"].get<std::string>().rfind("deterministic/" + s + "/", 0) == 0 &&
          std::find(again.begin(), again.end(), s) == again.end())
        again.push_back(s);
  }
  if (again.empty()) return t;
  progress << "harness ab: deterministic tier: " << again.size() << " server(s) flagged, measuring both sides again\n";
  const json base2 = measure("base", base_bin, again, "base/logs/deterministic-again");
  const json head2 = measure("head", head_bin, again, "head/logs/deterministic-again");
  write_file_atomic(out_dir + "/deterministic-again.json", json{{"base", base2}, {"head", head2}}.dump(1) + "\n");
  t.verdict = confirm_deterministic(t.verdict, base2, head2, base_costs, accepted);
  return t;
}

}  // namespace iomodels::harness
