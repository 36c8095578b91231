#include "harness/gate/ab_baseline.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness/gate/ab_deterministic.h"

namespace iomodels::harness {

using nlohmann::json;

json baseline_document(const json& first, const json& second, const std::string& sha, const std::string& cpu,
                       const DeterministicPlan& plan) {
  json costs = first;
  for (auto& [name, cost] : costs.items()) {
    const json one = {{name, cost}};
    const json other = second.contains(name) ? json{{name, second[name]}} : json::object();
    // Judged both ways: a figure that grows or shrinks between two runs of one
    // build. One such figure marks the whole case: a server whose syscalls
    // follow the timing (sigio's signalfd reads, asio's wakeups) takes other
    // paths through its code too, so its instructions vary as well, even when
    // two runs happen to agree on them.
    std::string varies;
    for (const json& v : {judge_deterministic(one, other, {}), judge_deterministic(other, one, {})})
      for (const auto& c : v.at("cases"))
        for (const auto& r : c["reasons"]) varies += (varies.empty() ? "" : "; ") + r.get<std::string>();
    if (!varies.empty())
      for (auto& [figure, value] : cost.items())
        if (value.is_object()) value = {{"unavailable", "varies between two runs: " + varies}};
    if (!second.contains(name)) cost = {{"unavailable", "measured in one run of two"}};
  }
  return {{"schema", "iomodels.baseline-costs/2"},
          {"sha", sha},
          {"cpu", cpu},
          {"plan",
           {{"connections", plan.connections},
            {"requests", {plan.requests_low, plan.requests_high}},
            {"callgrind_requests", {plan.callgrind_low, plan.callgrind_high}}}},
          {"costs", costs}};
}

std::pair<json, std::string> pick_baseline(const std::string& file_or_folder, const std::string& cpu) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  if (fs::is_directory(file_or_folder)) {
    for (const auto& e : fs::directory_iterator(file_or_folder))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(file_or_folder);
  }
  std::pair<json, std::string> first;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (!in) throw std::runtime_error("--against-baseline: cannot read " + f);
    json doc = json::parse(in);
    if (doc.value("cpu", "") == cpu) return {doc, f};
    if (first.second.empty()) first = {doc, f};
  }
  if (first.second.empty()) throw std::runtime_error("--against-baseline: no .json file in " + file_or_folder);
  return first;
}

json judge_against_baseline(const json& baseline, const json& head_costs, const std::string& cpu,
                            const std::vector<std::string>& servers, const std::vector<Accepted>& accepted,
                            const std::function<json(const std::vector<std::string>&)>& measure_again) {
  const json file = {{"sha", baseline.value("sha", "")}, {"cpu", baseline.value("cpu", "")}};
  if (baseline.value("cpu", "") != cpu) {
    // Same source, another CPU: glibc's string functions differ, and so do
    // the instruction counts. Not a change of this commit.
    json v = judge_deterministic(json::object(), json::object(), {});
    v["tier"] = "baseline";
    v["baseline"] = file;
    v["not_comparable"] = "the baseline was measured on '" + baseline.value("cpu", "?") + "', this host is '" +
                          cpu + "': nothing gated (write one here with --write-baseline)";
    return v;
  }
  const json& costs = baseline.at("costs");
  json v = judge_deterministic(costs, head_costs, accepted);
  if (const auto again = flagged_servers(v, servers); !again.empty()) {
    const json head2 = measure_again(again);
    // The baseline stands in for a second base run: it already holds only
    // figures that did not move between its own two runs.
    v = confirm_deterministic(v, costs, head2, costs, accepted);
  }
  v["tier"] = "baseline";
  v["baseline"] = file;
  return v;
}

}  // namespace iomodels::harness
