#include "harness/gate/ab_measure.h"

#include <unistd.h>

#include <algorithm>
#include <future>
#include <ostream>
#include <sstream>
#include <tuple>
#include <utility>

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

namespace {

// Two measurements at once, on crossed CPUs (the second gets the first's
// loadgen CPU for its server and the other way round). Under callgrind the
// server keeps its CPU busy and its loadgen mostly waits, and the kernel
// counts syscalls by pid, so the pair takes the time of one and neither
// figure depends on the other. The second one's progress dots are printed
// after it ends, so the two never interleave on the terminal.
std::pair<json, json> measure_two(const DeterministicPlan& plan, const std::string& first_bin,
                                  const std::string& second_bin, const std::vector<std::string>& servers,
                                  const std::string& first_logs, const std::string& second_logs,
                                  std::ostream& progress) {
  DeterministicPlan a = plan, b = plan;
  a.log_dir = first_logs;
  b.log_dir = second_logs;
  std::swap(b.server_cpus, b.loadgen_cpus);
  std::ostringstream b_progress;
  auto second = std::async(std::launch::async, [&] { return measure_deterministic(second_bin, servers, b, b_progress); });
  // If this throws, the future's destructor still waits for the other (std::async).
  json first = measure_deterministic(first_bin, servers, a, progress);
  json other = second.get();
  progress << b_progress.str() << std::flush;
  return {first, other};
}

}  // namespace

DeterministicTier run_deterministic_tier(DeterministicPlan plan, const std::string& base_bin,
                                         const std::string& head_bin, const std::vector<std::string>& servers,
                                         const std::vector<Accepted>& accepted, const std::string& out_dir,
                                         std::ostream& progress) {
  DeterministicTier t;
  if (base_bin.empty()) {
    progress << "harness ab: deterministic tier: head " << std::flush;
    plan.log_dir = out_dir + "/head/logs/deterministic";
    t.head_costs = measure_deterministic(head_bin, servers, plan, progress);
    write_file_atomic(out_dir + "/head/deterministic.json", t.head_costs.dump(1) + "\n");
    return t;
  }
  progress << "harness ab: deterministic tier: head and base side by side " << std::flush;
  json base_costs;
  std::tie(t.head_costs, base_costs) = measure_two(plan, head_bin, base_bin, servers, out_dir + "/head/logs/deterministic",
                                                   out_dir + "/base/logs/deterministic", progress);
  write_file_atomic(out_dir + "/head/deterministic.json", t.head_costs.dump(1) + "\n");
  write_file_atomic(out_dir + "/base/deterministic.json", base_costs.dump(1) + "\n");
  t.verdict = judge_deterministic(base_costs, t.head_costs, accepted);

  const std::vector<std::string> again = flagged_servers(t.verdict, servers);
  if (again.empty()) return t;
  progress << "harness ab: deterministic tier: " << again.size() << " server(s) flagged, measuring both sides again ";
  // The sides swap CPUs this time, so a figure that follows the CPU shows as base varying.
  auto [base2, head2] = measure_two(plan, base_bin, head_bin, again, out_dir + "/base/logs/deterministic-again",
                                    out_dir + "/head/logs/deterministic-again", progress);
  write_file_atomic(out_dir + "/deterministic-again.json", json{{"base", base2}, {"head", head2}}.dump(1) + "\n");
  t.verdict = confirm_deterministic(t.verdict, base2, head2, base_costs, accepted);
  return t;
}

std::vector<std::string> flagged_servers(const json& verdict, const std::vector<std::string>& servers) {
  std::vector<std::string> out;
  for (const auto& c : verdict["cases"]) {
    if (c["verdict"] != "regression" && c["verdict"] != "accepted") continue;
    for (const auto& s : servers)
      if (c["name"].get<std::string>().rfind("deterministic/" + s + "/", 0) == 0 &&
          std::find(out.begin(), out.end(), s) == out.end())
        out.push_back(s);
  }
  return out;
}

std::pair<json, json> measure_deterministic_twice(const DeterministicPlan& plan, const std::string& bin,
                                                  const std::vector<std::string>& servers, const std::string& log_dir,
                                                  std::ostream& progress) {
  return measure_two(plan, bin, bin, servers, log_dir + "/first", log_dir + "/second", progress);
}

}  // namespace iomodels::harness
