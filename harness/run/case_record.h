// What one repetition's numbers mean: its status (ok / degraded / failed),
// its flags (loadgen_bound, saturated), the server counters over the measured
// window, and the cost per message served in it.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/run/suite.h"
#include "loadgen/result.h"

namespace iomodels::harness {

// A repetition with errors or lost requests is "degraded" while they stay at
// or below this fraction of the requests it attempted (answered + lost), and
// "failed" beyond. A wrong reply (mismatch) always fails.
constexpr double kDegradedLimit = 0.01;
// Flags: a loadgen thread at least this busy (share of a core; cost::kLoadgenBusy)...
constexpr double kLoadgenBoundCpu = 0.90;
// ...and an open loop that achieved less than this share of its offered rate,
// held back more than kSaturatedHeld of its sends, or left more than
// kSaturatedUnsent of them unsent. "Held" is a send that fell due on time but
// left over 1 ms late: its connection could not take it (pipeline limit, full
// socket buffer), which is the server's doing. A send the loadgen itself
// reached late (late_dispatches: a preempted loadgen, a VM's stolen
// millisecond) is not the server's: on this 2-vCPU VM about 1% of the sends at
// 10k req/s were dispatched late while epoll_lt idled at 6% CPU.
constexpr double kSaturatedAchieved = 0.99;  // more than 1% short (docs/design.md, "Statuses and flags")
constexpr double kSaturatedHeld = 0.01;
constexpr double kSaturatedUnsent = 0.001;
// A loadgen that reached more than this share of its sends over 1 ms late did
// not keep the schedule either (2M req/s offered: 35%); a stolen millisecond
// here and there stays below it (about 1%).
constexpr double kScheduleLate = 0.05;

struct RepVerdict {
  std::string status = "ok";  // ok | degraded | failed
  std::string reason;         // why not ok, and what flags say
  nlohmann::json flags = nlohmann::json::object();  // loadgen_bound, saturated, loadgen_cpu_max
};

// A case's record before its first round: its label's parts (name, server,
// variant, case_id), its group and parameters, status "ok", no repetitions.
// The one place that writes a record's identity, for `run` and `ab` alike.
nlohmann::json new_case_record(const CaseLabel& label, const std::string& group, const CaseParams& p,
                               const std::vector<std::string>& server_args);

// A record's case_id; for a run written before records carried one, the part
// of its name after the server label (the only place that still reads a name).
std::string case_id_of(const nlohmann::json& record);

// From the loadgen's result (read strictly by loadgen::from_json) and the case's parameters.
RepVerdict judge_repetition(const loadgen::RunResult& loadgen, const CaseParams& p);

// server_stats_window: end - start of two `stats` snapshots (the servers'
// stats JSON): {"counters": {...}, "rusage": {...}}; null if either is missing.
nlohmann::json stats_delta(const nlohmann::json& start, const nlohmann::json& end);

// Per message answered in the window (messages > 0): syscalls by name and in
// total, wakeups, events, context switches (from the window's rusage, which
// counts exited threads too; null without it) and server CPU µs.
nlohmann::json cost_per_message(const nlohmann::json& window, double cpu_ns, double messages);

// The worst of two statuses (failed > degraded > ok).
std::string worse_status(const std::string& a, const std::string& b);

}  // namespace iomodels::harness
