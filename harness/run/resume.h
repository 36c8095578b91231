// `harness run --resume DIR`: an interrupted run (run.json with "complete":
// false) goes on where it stopped, with the options it was started with.
//
// The loop's order is fixed (rep -> case -> server), so what a run finished
// is one number, progress.steps_done: the first that many (case, repetition)
// runs of that order. A resumed run skips them, keeps their records as
// written, and runs the rest: the same cases, repetitions and order as a run
// never interrupted.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "harness/run/runner.h"

namespace iomodels::harness {

// What run.json keeps of the command line, so a resume needs only DIR.
nlohmann::json saved_run_options(const RunOptions& opt);

// The options of the run in DIR, with out_dir = DIR and resume set. Throws
// std::invalid_argument (exit 2) when DIR holds no run.json, one without
// saved options (an older harness), or a complete one.
RunOptions resume_options(const std::string& dir, bool progress);

// DIR/run.json as written, and how many steps of the loop it finished.
struct PriorRun {
  nlohmann::json run;
  size_t steps_done = 0;
};
PriorRun load_prior_run(const std::string& dir);

}  // namespace iomodels::harness
