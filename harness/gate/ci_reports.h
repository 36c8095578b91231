// What CI dashboards read, made from the harness's own documents:
//  - Bencher's metric format (BMF JSON): {"<case>": {"<measure>": {"value", "lower_value", "upper_value"}}};
//  - github-action-benchmark's `customSmallerIsBetter` input: [{"name", "unit", "value", "range", "extra"}];
//  - the gate's verdicts as JUnit XML (one test per case and metric) and as a
//    Markdown summary for a CI job summary ($GITHUB_STEP_SUMMARY).
// Pure functions of run.json / ab.json, so unit tests check them without running anything.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

// From a run document (iomodels.run): each case with figures, its medians
// over the repetitions, bounded by the repetitions' min and max.
nlohmann::json bencher_bmf(const nlohmann::json& run);
nlohmann::json benchmark_action_smaller(const nlohmann::json& run);

// From a run document and the gate's ab.json: head's figures as above, plus the
// head/base ratio of each metric with its interval (BMF) or as an extra entry.
nlohmann::json bencher_bmf_ab(const nlohmann::json& head_run, const nlohmann::json& ab);
nlohmann::json benchmark_action_smaller_ab(const nlohmann::json& head_run, const nlohmann::json& ab);

// The gate's verdicts (ab.json, comparable or not).
std::string ab_junit_xml(const nlohmann::json& ab);
std::string ab_markdown(const nlohmann::json& ab);

// Writes ab.junit.xml and ab.md into out_dir (beside ab.json); and, when the
// paths are not empty, the two dashboard files. A file that cannot be written
// throws std::runtime_error.
void write_ab_reports(const std::string& out_dir, const nlohmann::json& ab, const nlohmann::json& head_run,
                      const std::string& bencher_path, const std::string& benchmark_action_path);
void write_run_reports(const nlohmann::json& run, const std::string& bencher_path,
                       const std::string& benchmark_action_path);

}  // namespace iomodels::harness
