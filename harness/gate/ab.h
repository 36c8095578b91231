// `harness ab`: the regression gate (docs/design.md, "Compare and gate documents"). Two revisions built side by
// side, one suite run with each revision's own servers and loadgen, the two
// interleaved per round (A B, then B A, ...) so that host drift lands on both
// alike, and the head/base ratio of each case judged with a confidence
// interval (harness/gate/ab_judge.h).
#pragma once
#include <array>
#include <iosfwd>
#include <string>
#include <vector>

#include "harness/gate/ab_judge.h"
#include "harness/gate/ab_measure.h"

namespace iomodels::harness {

struct AbOptions {
  std::string source_dir;        // the repository; default: the one this harness was built from
  std::string base = "HEAD^";    // a revision
  std::string head = "worktree"; // "worktree" (this build) or a revision
  std::string base_bin;          // a ready build folder instead of building base (tests, A/A)
  std::string head_bin;          // the same for head
  std::string suite_path;
  std::string out_dir;           // default results/<date>-ab-<suite>
  std::string work_dir;          // revision builds; default <this build>/ab
  std::vector<std::string> servers;
  std::string server_cpus, loadgen_cpus;
  int repetitions = 0;           // 0: the suite's
  int start_timeout_ms = 5000, stop_timeout_ms = 2000;
  // Host calibration per repetition (harness run's --calibration-ms). Off by
  // default: base and head run moments apart, so drift cancels in the pair.
  int calibration_ms = 0;
  // Kernel-counted syscalls per round (run.json kernel_syscalls) on which
  // side: "none" (the gate's default: no counter perturbs its timing),
  // "both", "base" or "head" (one side only: what counting itself costs).
  std::string count_syscalls = "none";
  bool trailers = true;          // read Perf-accepted from the head commit's message
  // Tiers. The capacity tier is the suite's closed-loop cases, the
  // fixed-load tier its "fixed-load" group; both always run when the suite
  // has them. The deterministic tier (harness/gate/ab_deterministic.h) measures
  // every server of both builds at fixed request counts first.
  bool deterministic = true;
  DeterministicPlan deterministic_plan;
  // Compare head's deterministic costs with this file too (results/baselines/
  // deterministic.json): growth spread over many commits, none past a threshold.
  std::string against_baseline;
  std::string write_baseline;    // write head's deterministic costs here (to renew the baseline)
  bool progress = true;
  // Dashboard files (harness/gate/ci_reports.h); empty: not written. ab.junit.xml
  // and ab.md are always written beside ab.json.
  std::string bencher_path, benchmark_action_path;
  JudgeOptions judge;
};

// Which side runs first in a round: base (0) then head (1) in even rounds,
// head then base in odd ones, so a steady drift favours each side equally.
std::array<int, 2> round_order(int round);

// Returns the exit code: 0 no regression (or no comparable base, said on
// `out`), 1 regression. Throws SuiteError for a bad suite and
// std::runtime_error when the head cannot be built or the run cannot start.
int run_ab(const AbOptions& opt, std::ostream& out);

}  // namespace iomodels::harness
