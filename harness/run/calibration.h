// Host calibration: how fast each CPU the harness uses runs a fixed syscall
// loop right now. On a shared VM the same CPU can be 2-4x slower from one
// minute to the next; recording this beside every repetition lets results be
// read (and repetitions flagged) against the host's state when they ran.
#pragma once
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

// Runs the loop for about budget_ms on each CPU in turn (pinned thread) and
// returns {"<cpu>": {"ns_per_op": f, "ops": n}, ...}.
nlohmann::json calibrate_cpus(const std::vector<int>& cpus, int budget_ms = 50);

// Repetitions whose calibration is outlying for the run: per CPU, more than
// max(3 scaled MADs, 15%) from the run's median. Marks
// repetitions[i].flags.calibration_outlier and case flags.outlier_rounds.
void flag_calibration_outliers(nlohmann::json& cases);

}  // namespace iomodels::harness
