// What one round (repetition) adds to run.json for the cost comparison:
// both sides' busy fractions, the saturation labels they imply, and the
// kernel-counted syscalls of the measured window.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/cost/kernel_syscalls.h"

namespace iomodels::harness::cost {

// Labels (docs/design.md, "Statuses and flags"): a side is "busy" at or above these shares of its CPUs.
// client_limited: the loadgen busy and the server not; co_saturated: both.
// Under either, a ratio near 1 means "not told apart here", never "equal".
constexpr double kLoadgenBusy = 0.90;
constexpr double kServerBusy = 0.80;

// rep["busy"] = {"server": cpu_ns / span_ns / server_cpus, "loadgen": busiest
// loadgen thread} and rep["flags"].client_limited / co_saturated; loadgen_bound
// stays as their union (the old name). Needs rep.server_cpu and rep.flags.
void add_saturation_labels(nlohmann::json& rep, double server_cpu_ns, double span_ns, size_t server_cpus);

// rep["kernel_syscalls"]: the window's counts (end - start) per message and the
// cross-check against rep.server_stats_window.counters.syscalls; or
// {"unavailable": why} when there is no count.
// Messages: the server's own count for the window when it has one, else the
// loadgen's (rep.cost_per_message.messages).
void add_kernel_syscalls(nlohmann::json& rep, const std::optional<SyscallCounts>& start,
                         const std::optional<SyscallCounts>& end, const std::string& unavailable);

}  // namespace iomodels::harness::cost

namespace iomodels::harness::cost {
// aggregate.kernel_syscalls_per_message over a case's usable rounds:
// {"total", "by_name": {name: median, a round without it counting 0}, "rounds",
//  "server_unseen": [names any round saw that the server does not count],
//  "disagree": [names whose kernel and server counts differed by > 1% in a round]};
// null when no round was counted.
nlohmann::json aggregate_kernel_syscalls(const nlohmann::json& repetitions);
// aggregate.busy: medians of both sides' busy fractions; null without any.
nlohmann::json aggregate_busy(const nlohmann::json& repetitions);
}  // namespace iomodels::harness::cost
