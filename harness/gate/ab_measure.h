// Measuring the deterministic tier of `harness ab` (harness/gate/ab_deterministic.h
// judges it): every server of one build, at fixed request counts, through the
// cost probes (harness/cost/probe.h): kernel-counted syscalls per
// message at each connection count, callgrind instructions per message at one.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/gate/ab_judge.h"

namespace iomodels::harness {

struct DeterministicPlan {
  // Syscalls at each. One connection only by default: at 16 the count of
  // wakeups (epoll_wait, io_uring_enter) per message depends on how requests
  // happen to batch, so it moves between two runs of the same build.
  std::vector<int> connections{1};
  uint64_t requests_low = 2000, requests_high = 4000;
  bool callgrind = true;
  int callgrind_connections = 1;  // callgrind at this one only: it is the slow probe
  uint64_t callgrind_low = 1000, callgrind_high = 2000;
  std::vector<int> server_cpus, loadgen_cpus;
  std::string log_dir;
};

// {"deterministic/<server>/<workload>": {"kernel_syscalls": {...}, "callgrind": {...}}, ...}:
// the shape judge_deterministic() takes. A probe that cannot run says why in
// {"unavailable": why} and that figure is not gated.
nlohmann::json measure_deterministic(const std::string& bin_dir, const std::vector<std::string>& servers,
                                     const DeterministicPlan& plan, std::ostream& progress);

// The whole tier: head and base, measured side by side and judged; each case flagged
// is measured once more on both sides and kept only when base agrees with
// itself and head is flagged again (confirm_deterministic). Writes
// <out_dir>/{head,base}/deterministic.json and, when anything was measured
// again, deterministic-again.json. `base_bin` empty: head is only measured.
struct DeterministicTier {
  nlohmann::json head_costs;
  nlohmann::json verdict;  // null when base_bin is empty
};
DeterministicTier run_deterministic_tier(DeterministicPlan plan, const std::string& base_bin,
                                         const std::string& head_bin, const std::vector<std::string>& servers,
                                         const std::vector<Accepted>& accepted, const std::string& out_dir,
                                         std::ostream& progress);

// The servers that have a case flagged (regression or accepted) in a verdict
// of judge_deterministic, in the order of `servers`.
std::vector<std::string> flagged_servers(const nlohmann::json& verdict, const std::vector<std::string>& servers);

// One build measured twice at once, on crossed CPUs (logs under
// log_dir/first and log_dir/second): what a baseline is written from, and
// what tells a figure that moves between runs.
std::pair<nlohmann::json, nlohmann::json> measure_deterministic_twice(const DeterministicPlan& plan,
                                                                      const std::string& bin,
                                                                      const std::vector<std::string>& servers,
                                                                      const std::string& log_dir,
                                                                      std::ostream& progress);

}  // namespace iomodels::harness
