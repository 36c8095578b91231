// The records of a `harness run`: one slot per (case, server, variant), in
// the order results are read (by case, then by server), each holding its
// run.json record as it grows round by round.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/run/run_case.h"
#include "harness/run/runner.h"
#include "harness/run/suite.h"

namespace iomodels::harness {

// The server every other is paired with (paired ratios, group copies, A/A rows).
inline constexpr char kReferenceServer[] = "epoll_lt";

struct Slot {
  nlohmann::json record;
  std::string path;  // executable; empty when skipped
  const CaseParams* params = nullptr;
  std::vector<std::string> server_args;  // a variant's extra arguments
  std::vector<std::string> failures;
  int repetitions = 1;         // its group's rounds
  bool counted_round = false;  // one more round, with the kernel's syscall counters
};

// The slots of `suite` on `servers` (already narrowed by --servers), with
// each server's executable under `bin_dir` (a listed but unbuilt one is a
// failed record, not a smaller run). Pairs that really are pairs: a group
// that leaves the reference out (a variant group) gets its own copy of it,
// first in each of its blocks, and "aa" groups an A/A copy last.
std::vector<Slot> plan_slots(const Suite& suite, const std::vector<std::string>& servers, const RunOptions& opt,
                             const std::string& bin_dir);

// --resume: the finished part's records, statuses and failures, as written.
// Throws std::invalid_argument when the suite no longer gives the same cases.
void resume_slots(std::vector<Slot>& slots, const nlohmann::json& before);

// Adds one round's outcome to its slot; returns the failure line to show, or
// "" when the round was ok. The case takes its worst round's status, and the
// first reason.
std::string add_round(Slot& slot, CaseRun r, int round);

}  // namespace iomodels::harness
