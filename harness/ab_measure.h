// Measuring the deterministic tier of `harness ab` (harness/ab_deterministic.h
// judges it): every server of one build, at fixed request counts, through the
// cost probes of issue 20 (harness/cost/probe.h): kernel-counted syscalls per
// message at each connection count, callgrind instructions per message at one.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

struct DeterministicPlan {
  std::vector<int> connections{1, 16};  // syscalls at each
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

}  // namespace iomodels::harness
