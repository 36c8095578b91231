#include "harness/cost/round_cost.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace iomodels::harness::cost {

using nlohmann::json;

void add_saturation_labels(json& rep, double server_cpu_ns, double span_ns, size_t server_cpus) {
  json& flags = rep["flags"];
  const double loadgen = flags.value("loadgen_cpu_max", 0.0);
  const double server = span_ns > 0 ? server_cpu_ns / span_ns / static_cast<double>(std::max<size_t>(1, server_cpus)) : 0;
  rep["busy"] = {{"server", server}, {"loadgen", loadgen}};
  const bool client_busy = loadgen >= kLoadgenBusy;
  flags["client_limited"] = client_busy && server < kServerBusy;
  flags["co_saturated"] = client_busy && server >= kServerBusy;
  flags["loadgen_bound"] = client_busy;  // kept: the union of the two above
}

void add_kernel_syscalls(json& rep, const std::optional<SyscallCounts>& start, const std::optional<SyscallCounts>& end,
                         const std::string& unavailable) {
  if (!start || !end) {
    rep["kernel_syscalls"] = {{"unavailable", unavailable.empty() ? "no window" : unavailable}};
    return;
  }
  const json& window = rep.value("server_stats_window", json(nullptr));
  double messages = 0;
  json server_syscalls = nullptr;
  if (window.is_object() && window.contains("counters")) {
    messages = window["counters"].value("messages", 0.0);
    if (window["counters"].contains("syscalls")) server_syscalls = window["counters"]["syscalls"];
  }
  if (messages <= 0 && rep.contains("cost_per_message") && rep["cost_per_message"].is_object())
    messages = rep["cost_per_message"].value("messages", 0.0);
  rep["kernel_syscalls"] = syscalls_record(minus(*end, *start), messages, server_syscalls);
}

}  // namespace iomodels::harness::cost

namespace iomodels::harness::cost {
namespace {
double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
}  // namespace

json aggregate_kernel_syscalls(const json& repetitions) {
  std::vector<const json*> counted;
  for (const auto& r : repetitions)
    if (r.value("status", "ok") != "failed" && r.contains("kernel_syscalls") &&
        r["kernel_syscalls"].is_object() && r["kernel_syscalls"].contains("per_message") &&
        r["kernel_syscalls"]["total_per_message"].is_number())
      counted.push_back(&r["kernel_syscalls"]);
  if (counted.empty()) return nullptr;
  std::map<std::string, std::vector<double>> by_name;
  std::vector<double> totals;
  std::set<std::string> unseen, disagree;
  for (const json* k : counted) {
    totals.push_back((*k)["total_per_message"].get<double>());
    for (const auto& [name, v] : (*k)["per_message"].items()) by_name[name];
    if ((*k).contains("server_unseen") && (*k)["server_unseen"].is_array())
      for (const auto& n : (*k)["server_unseen"]) unseen.insert(n.get<std::string>());
    if ((*k).contains("cross_check") && (*k)["cross_check"].is_object())
      for (const auto& [name, c] : (*k)["cross_check"].items())
        if (!c.value("agree", true)) disagree.insert(name);
  }
  for (auto& [name, v] : by_name)
    for (const json* k : counted) v.push_back((*k)["per_message"].value(name, 0.0));
  json names = json::object();
  for (const auto& [name, v] : by_name) names[name] = median_of(v);
  return {{"total", median_of(totals)}, {"by_name", names}, {"rounds", counted.size()},
          {"server_unseen", unseen}, {"disagree", disagree}};
}

json aggregate_busy(const json& repetitions) {
  std::vector<double> server, loadgen;
  for (const auto& r : repetitions)
    if (r.value("status", "ok") != "failed" && r.contains("busy") && r["busy"].is_object()) {
      server.push_back(r["busy"].value("server", 0.0));
      loadgen.push_back(r["busy"].value("loadgen", 0.0));
    }
  if (server.empty()) return nullptr;
  return {{"server", median_of(server)}, {"loadgen", median_of(loadgen)}};
}
}  // namespace iomodels::harness::cost
