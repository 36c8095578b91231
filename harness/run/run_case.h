// One repetition of one case on one server: calibrate the CPUs, start the
// server pinned, load it, sample its CPU and counters at the two ends of the
// loadgen's measured window, stop it, collect and judge everything.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/run/suite.h"

namespace iomodels::harness {

struct CaseEnv {
  std::string loadgen_path;
  std::string tmp_dir;   // scratch for the loadgen output and the stats file
  std::string log_dir;   // OUT/logs: servers' and loadgen's stderr, appended
  std::vector<int> server_cpus;
  std::vector<int> loadgen_cpus;
  int start_timeout_ms = 5000;
  int stop_timeout_ms = 2000;
  int snapshot_timeout_ms = 2000;  // for a `stats` line after SIGUSR1
  int calibration_ms = 50;         // per CPU and repetition; 0: none
  // The loadgen announces its window (--notify-fd); else the harness times
  // the window itself from warmup and duration, and says so.
  bool loadgen_notify = false;
  // Loopback: the server's --bind ("::1" for an IPv6 run); empty: its default, 127.0.0.1.
  std::string server_bind;
  // Count the server's syscalls with the kernel's tracepoints over the window
  // (harness/cost/kernel_syscalls.h); when it cannot, why (recorded per round).
  bool count_syscalls = false;
  std::string syscalls_unavailable;
};

struct CaseRun {
  std::string status = "failed";  // ok | degraded | failed
  std::string reason;             // why not ok
  // The repetition record; null when there is nothing to keep (the server
  // did not start, crashed, the loadgen wrote nothing).
  nlohmann::json rep;
};

// `round` is the index of the interleaved round this repetition belongs to.
// `snapshots`: the server answers SIGUSR1 with a `stats` line (servers built
// before that would die of the signal: see help_mentions). `server_args`:
// extra arguments for the server (a suite variant), after the common ones.
CaseRun run_one(const CaseEnv& env, const std::string& server, const std::string& server_path,
                const CaseParams& p, int round, bool snapshots, const std::vector<std::string>& server_args = {});

// Shared with run_remote.cpp (the same repetition over a remote topology).
class WindowSampler;
class Child;
// The server's command line for one case (path first).
std::vector<std::string> server_argv(const std::string& path, const CaseParams& p, const std::string& stats_path,
                                     const std::vector<std::string>& server_args);
// Starts a case's server (argv from server_argv, stderr to `log`, pinned to
// `cpus`) and waits for its `listening` line: the child, with its ADDR:PORT in
// *target; or null with *why set.
std::unique_ptr<Child> start_server(std::vector<std::string> argv, const std::vector<int>& cpus,
                                    const std::string& log, int timeout_ms, std::string* target, std::string* why);
// SIGTERM and a bounded wait: "" when it exited 0, else what went wrong.
std::string stop_server(Child& srv, int timeout_ms, const std::string& log);
std::vector<std::string> loadgen_argv(const CaseEnv& env, const CaseParams& p, const std::string& target,
                                      const std::string& out, int notify_fd);
std::string num(double d);
std::string last_line(const std::string& path);  // " (log: ...)" or ""
std::optional<nlohmann::json> read_json(const std::string& path);
CaseRun failed(std::string why);
// Judges and records one repetition once the loadgen's result is in and the
// server has stopped (stop_problem: why the stop went wrong, or ""). The
// result is read by the loadgen's own reader (loadgen::from_json): a file it
// refuses fails the repetition; run.json keeps the file as written.
CaseRun record_repetition(nlohmann::json lg_json, const CaseParams& p, int round,
                          const std::string& stop_problem, const std::string& loadgen_log,
                          const WindowSampler& window, bool announced, nlohmann::json calibration,
                          const std::string& stats_path);

// Whether `exe --help` prints `needle` (feature detection, with a time limit).
bool help_mentions(const std::string& exe, const std::string& needle);

}  // namespace iomodels::harness
