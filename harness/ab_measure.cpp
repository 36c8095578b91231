#include "harness/ab_measure.h"

#include <unistd.h>

#include <ostream>

#if __has_include("harness/cost/probe.h")
#include "harness/cost/probe.h"
#define IOMODELS_HAVE_COST_PROBES 1
#endif

namespace iomodels::harness {

using nlohmann::json;

#ifndef IOMODELS_HAVE_COST_PROBES
// Built before the cost probes (issue 20) landed: every figure unavailable,
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

}  // namespace iomodels::harness
