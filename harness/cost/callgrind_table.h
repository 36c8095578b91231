// The run's table of user-space instructions per message: every server of the
// run under callgrind at the suite's fixed-count workloads
// (suite "callgrind": {"workloads": ["echo/c1/s64", "echo/c16/s64", "http/c1"],
// "requests": [200, 600]}). Deterministic: it goes in run.json beside the
// timed cases, and the report shows it as a table.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/cost/probe.h"

namespace iomodels::harness::cost {

// Checks a suite's "callgrind" entry; throws std::invalid_argument naming the
// field ("callgrind.workloads[1]: ...").
void check_callgrind_spec(const nlohmann::json& spec);

// "echo/c16/s64" -> protocol, connections, size of `into`; false if malformed.
bool parse_workload(const std::string& key, CostProbe& into);

// {"available": true, "requests": [lo, hi], "workloads": [...], "servers":
// {"epoll_lt": {"echo/c1/s64": {"instructions_per_message": 621.0, "ir": [..],
// "messages": [..]} | {"error": "..."}}}} or {"available": false, "reason": why}.
// `progress(i, n, what)` is called before each probe.
nlohmann::json callgrind_table(const nlohmann::json& spec, const std::vector<std::string>& servers,
                               const std::string& bin_dir, const CostProbe& base,
                               const std::function<void(size_t, size_t, const std::string&)>& progress);

}  // namespace iomodels::harness::cost
