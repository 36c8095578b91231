// The loadgen result: what the workers measured, merged, and its JSON
// (schema iomodels.loadgen/1, results/schema/loadgen.schema.json). The same
// type is read back from JSON so that `loadgen merge` adds histograms and
// counters and recomputes every percentile (never averages them).
#pragma once
#include <nlohmann/json.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "core/histogram.h"
#include "loadgen/options.h"
#include "loadgen/worker_stats.h"

namespace iomodels::loadgen {

// Field names of the loadgen's JSON that code outside loadgen/ names (the
// harness's run.json metric of the same name, tests that edit a result):
// spelled here and nowhere else; to_json and stored_figures use them too.
namespace json_field {
inline constexpr char kRequestsPerS[] = "requests_per_s";  // in "summary": good replies per second
}  // namespace json_field

struct IdleStats {
  uint64_t requested = 0;
  uint64_t opened = 0;
  uint64_t failed = 0;
  uint64_t closed_by_peer = 0;  // found closed when the run ended
};

struct RunResult {
  nlohmann::json context = nlohmann::json::object();
  nlohmann::json config = nlohmann::json::object();
  double duration_s = 0;
  uint64_t requests = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t sent = 0;       // requests of the window that went out
  uint64_t unsent = 0;     // requests of the window due and never sent
  LostCounts lost;         // requests of the window sent and never answered
  double cpu_user_s = 0;
  double cpu_sys_s = 0;
  double target_rate = 0;  // 0: closed loop
  double thread_cpu_max = 0;  // busiest worker thread: CPU / wall over the window
  uint64_t window_start_ns = 0;  // CLOCK_MONOTONIC; merged runs: earliest start
  uint64_t window_end_ns = 0;    //                   merged runs: latest end
  std::string accept_queue;      // settle result ("empty", "not_visible", "timeout"); "" = not checked
  ErrorCounts errors;
  ScheduleStats schedule;
  ConnectionStats conns;
  IdleStats idle;
  Histogram corrected;
  Histogram uncorrected;
  Histogram connect;
  Histogram schedule_lag;
  std::vector<SecondStats> seconds;

  // Adds a worker's (or another run's) figures. Durations: the longest wins
  // (runs merged here ran side by side), so req/s adds up.
  void add_counters(const WorkerStats& w);
  void merge(const RunResult& other);

  // Good replies per second of the window, as the JSON writes it
  // (summary.requests_per_s and open_loop.achieved_rate).
  double requests_per_s() const;
};

nlohmann::json context_json();
nlohmann::json config_json(const Options& opt, int source_addresses);

// Histogram <-> {"unit": "ns", "significant_digits": 3, "min", "max", "buckets": [[ns, n], ...]}
nlohmann::json histogram_json(const Histogram& h);
Histogram histogram_from_json(const nlohmann::json& j);  // throws std::runtime_error
// {"count", "min", "mean", "stdev", "p50", ..., "max"} in µs
nlohmann::json latency_summary_json(const Histogram& h);

nlohmann::json to_json(const RunResult& r);
RunResult from_json(const nlohmann::json& j);  // throws std::runtime_error on a non-loadgen file

// The headline figures of a result as written (run.json embeds the file in
// each repetition), for readers that need a few numbers of many files and no
// histograms: the field names live here, beside the writer, and nowhere else
// in C++. NaN where the file lacks one (a failed repetition, an older loadgen).
struct StoredFigures {
  double requests = NAN, requests_per_s = NAN;
  double p50_us = NAN, p99_us = NAN, p99_9_us = NAN;  // corrected latency
  double schedule_lag_p50_us = NAN, schedule_lag_p99_us = NAN, schedule_lag_max_us = NAN;
};
StoredFigures stored_figures(const nlohmann::json& result);

}  // namespace iomodels::loadgen
