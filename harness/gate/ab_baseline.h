// The baseline tier of `harness ab` (--against-baseline): head's
// deterministic costs against those of a baseline commit kept in
// results/baselines/<host>/deterministic.json, which catches a growth spread
// over many commits, each under the HEAD^ gate's thresholds.
//
// A baseline is written from two measurements of one build
// (--write-baseline). A figure the two disagree on (by the deterministic
// tier's own thresholds, either way) moves with timing, as nonblocking_spin's
// EAGAIN polling does; it is stored as unavailable with the reason, so it is
// never gated. Instruction counts also follow the CPU (glibc picks its
// string functions by CPU), so the file names the CPU it was measured on and
// a head measured on another CPU is reported, not gated.
//
// Judging: a case head flags is measured once more (head only: the baseline
// is a file) and stays a regression only when the second measurement is
// flagged again.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/gate/ab_judge.h"
#include "harness/gate/ab_measure.h"

namespace iomodels::harness {

// {"schema": "iomodels.baseline-costs/2", "sha", "cpu" (cpu_identity()), "plan", "costs"}:
// costs as judge_deterministic() takes them, with the figures `first` and
// `second` disagree on replaced by {"unavailable": "varies between two runs: ..."}.
nlohmann::json baseline_document(const nlohmann::json& first, const nlohmann::json& second, const std::string& sha,
                                 const std::string& cpu, const DeterministicPlan& plan);

// --against-baseline's argument: a file, or a folder of them
// (results/baselines/deterministic/), from which the one measured on this
// CPU is taken; with none, the first, which then gates nothing and says so.
// Returns the document and the file it came from; throws when nothing can be read.
std::pair<nlohmann::json, std::string> pick_baseline(const std::string& file_or_folder, const std::string& cpu);

// The verdict of the baseline tier ("tier": "baseline"). `measure_again`
// measures the named servers of head once more. A baseline whose cpu
// differs from `cpu` gates nothing and says why.
nlohmann::json judge_against_baseline(
    const nlohmann::json& baseline, const nlohmann::json& head_costs, const std::string& cpu,
    const std::vector<std::string>& servers, const std::vector<Accepted>& accepted,
    const std::function<nlohmann::json(const std::vector<std::string>&)>& measure_again);

}  // namespace iomodels::harness
