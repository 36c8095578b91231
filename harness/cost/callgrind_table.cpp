#include "harness/cost/callgrind_table.h"

#include <stdexcept>

namespace iomodels::harness::cost {

using nlohmann::json;

json callgrind_table(const json& spec, const std::vector<std::string>& servers, const std::string& bin_dir,
                     const CostProbe& base, const std::function<void(size_t, size_t, const std::string&)>& progress) {
  if (auto why = valgrind_unavailable(); !why.empty()) return {{"available", false}, {"reason", why}};
  CostProbe p = base;
  if (spec.contains("requests")) {
    p.requests_low = spec["requests"][0].get<uint64_t>();
    p.requests_high = spec["requests"][1].get<uint64_t>();
  }
  json out = {{"available", true},
              {"tool", "valgrind --tool=callgrind: instructions executed in user space, all threads"},
              {"method", "(Ir at HIGH requests - Ir at LOW requests) / (messages HIGH - messages LOW)"},
              {"requests", {p.requests_low, p.requests_high}},
              {"workloads", spec["workloads"]},
              {"servers", json::object()}};
  const size_t n = servers.size() * spec["workloads"].size();
  size_t i = 0;
  for (const auto& s : servers) {
    json row = json::object();
    for (const auto& w : spec["workloads"]) {
      const std::string key = w.get<std::string>();
      if (progress) progress(i++, n, s + " " + key);
      if (s.find("io_uring") != std::string::npos) {
        // valgrind 3.19 does not model io_uring: the kernel writes the rings
        // behind its back and the first run never finishes (minutes of timeouts).
        row[key] = {{"error", "not run: valgrind 3.19 does not support io_uring"}};
        continue;
      }
      CostProbe q = p;
      parse_workload(key, q);
      q.server_path = bin_dir + "/" + s;
      row[key] = callgrind_per_message(q).to_json();
    }
    out["servers"][s] = row;
  }
  return out;
}

}  // namespace iomodels::harness::cost
