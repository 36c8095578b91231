// run.json and gbench.json: the harness's two outputs (docs/design.md, "run.json"), written
// atomically so a reader never sees half a file.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/result.h"

namespace iomodels::harness {

// Where and what this ran on; server_cpus/loadgen_cpus are the pinning used.
nlohmann::json build_context(const std::string& server_cpus, const std::string& loadgen_cpus);
// /proc/cpuinfo's first "model name" ("unknown" without one): the context's
// cpu_model, and the key of a deterministic baseline (instruction counts
// follow the CPU through glibc's choice of string functions).
std::string cpu_model();
// cpu_model() plus a hash of the instruction-set flags that code picks its
// implementation by ("AMD EPYC [isa 3f2a9c10]"): the key of a deterministic
// baseline. Two VMs that both say "AMD EPYC" can differ in ERMS/FSRM/AVX-512,
// and glibc picks its memcpy by those flags, so instruction counts follow
// them, not the name alone. The rest of the flags line (hypervisor, mitigation
// and timer bits: ibpb, ssbd, arat...) changes between boots and hosts of one
// kind without changing a single instruction, and is left out.
std::string cpu_identity();
// The same from given text: `flags` is /proc/cpuinfo's flags line (its value).
std::string cpu_identity(const std::string& model, const std::string& flags);

// The figures of a repetition by the names run.json uses for them, in each
// case's "aggregate" and "paired_ratio" and in the verdicts of compare and the
// gate: written here once, read through rep_metric().
namespace metric {
using loadgen::json_field::kRequestsPerS;  // named after the loadgen's summary figure it aggregates
inline constexpr char kP50Us[] = "p50_us";
inline constexpr char kP99Us[] = "p99_us";
inline constexpr char kP999Us[] = "p99_9_us";
inline constexpr char kServerCpuUsPerRequest[] = "server_cpu_us_per_request";
inline constexpr char kServerCpuNsPerRequest[] = "server_cpu_ns_per_request";
}  // namespace metric

// One repetition's figure (a record in a case's "repetitions") by its metric
// name: the loadgen's through loadgen::stored_figures, the server's CPU from
// "server_cpu". NaN where the repetition has none; throws std::invalid_argument
// for a name not in `metric`.
double rep_metric(const nlohmann::json& rep, std::string_view name);

struct Stats3 {
  double median = 0, min = 0, max = 0;
};
Stats3 summarize(std::vector<double> v);  // all zero for an empty vector

// The "aggregate" object of a case from its repetitions (ok ones only).
nlohmann::json aggregate_case(const nlohmann::json& repetitions);

// The Google Benchmark JSON of a run: one "iteration" entry per case and
// repetition (real_time = ns per request = 1e9 / req/s, cpu_time = server CPU
// ns per request), then "_mean" and "_median" aggregates per case.
nlohmann::json to_gbench(const nlohmann::json& run);

// An incomplete run's cases that have not run yet (status still "ok", no
// repetition) are written "skipped", reason "not run yet", "pending": true;
// unmark_pending() turns such a record back into one to run (--resume).
void mark_pending(nlohmann::json& cases);
void unmark_pending(nlohmann::json& record);

// Reads a run.json, or DIR/run.json when given a folder; throws std::runtime_error.
nlohmann::json read_run(const std::string& path_or_dir);

}  // namespace iomodels::harness
