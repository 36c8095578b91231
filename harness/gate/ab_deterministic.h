// The deterministic tier of `harness ab`: costs that do not depend
// on how busy the machine is, measured at fixed request counts for base and
// head, compared against fixed thresholds. No statistics: the same build gives
// the same figures (callgrind counts instructions, the kernel counts
// syscalls), so a difference past a threshold is a change, not noise.
//
//  - user-space instructions per message (callgrind): flag above +1%;
//  - kernel-counted syscalls per message, by name: flag an increase of 0.02
//    or more, or a name base did not make at all, from 0.01 per message;
//  - heap allocations per message: flag an increase of 0.01 or more.
//
// Each side is a JSON object {"<case>": COST, ...}; COST has the shape of
// `harness cost` (iomodels.cost/1): {"callgrind": {"instructions_per_message":
// x} | {"unavailable": why}, "kernel_syscalls": {"per_message": {name: x}} |
// {"unavailable": why}, "allocations_per_message": x (optional)}. Case names
// are "deterministic/<server>/<workload>", so `Perf-accepted:
// deterministic/epoll_lt/*: reason` lets a known cost through in this tier only.
#pragma once
#include <iosfwd>

#include <nlohmann/json.hpp>

#include "harness/gate/ab_judge.h"

namespace iomodels::harness {

struct DeterministicThresholds {
  double instructions_ratio = 0.01;  // head/base - 1
  double syscalls_increase = 0.02;   // per message, per name
  double syscalls_new = 0.01;        // per message, a name base did not make
  double allocations_increase = 0.01;
};

// {"tier": "deterministic", "cases": [{"name", "verdict": "ok|regression|accepted|not gated",
//   "reasons": [..], "instructions": {"base","head","ratio"}, "syscalls": {name: {"base","head"}},
//   "allocations": {"base","head"}}], "summary": {"regressions", "accepted", "gated", "cases"}}
nlohmann::json judge_deterministic(const nlohmann::json& base, const nlohmann::json& head,
                                   const std::vector<Accepted>& accepted, const DeterministicThresholds& t = {});

// A figure flagged once is measured again, base and head, before it counts:
// `first` is judge_deterministic(base1, head1); base2/head2 hold the flagged
// cases measured a second time. A flagged case stays a regression only when
// base measured twice agrees with itself (both directions judged ok: the
// figure does not move with timing, as a spinning server's EAGAIN count
// does) and head2 is flagged against base2 again. Otherwise it is "not gated"
// (base varies between two runs, named) or "ok" (not reproduced).
nlohmann::json confirm_deterministic(nlohmann::json first, const nlohmann::json& base2, const nlohmann::json& head2,
                                     const nlohmann::json& base1, const std::vector<Accepted>& accepted,
                                     const DeterministicThresholds& t = {});

void print_deterministic(const nlohmann::json& verdict, std::ostream& out);

}  // namespace iomodels::harness
