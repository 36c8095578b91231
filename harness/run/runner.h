// `harness run` and `harness micro`: the suite loop and one server×case run.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/run/suite.h"

namespace iomodels::harness {

struct RunOptions {
  std::string suite_path;
  std::string out_dir;                 // empty: results/<date>-<suite>
  std::vector<std::string> servers;    // empty: the suite's
  std::string server_cpus;             // empty: "0" (or all CPUs on a 1-CPU machine)
  std::string loadgen_cpus;            // empty: "1"
  int repetitions = 0;                 // 0: the suite's
  std::string bin_dir;                 // where servers, loadgen and iomodels_micro live
  std::string loadgen;                 // empty: BIN_DIR/loadgen
  int start_timeout_ms = 5000;         // for the "listening" line
  int stop_timeout_ms = 2000;          // after SIGTERM, before SIGKILL and "stop timeout"
  bool progress = true;                // shown only when stderr is a terminal anyway
  bool micro = true;                   // run the suite's "micro" entry, if it has one
  bool callgrind = true;               // run the suite's "callgrind" table, if it has one
  // --topology loopback | netns | hosts:FILE (docs/multihost.md); checked by
  // check_topology() before the run, so a bad one exits 2.
  std::string topology = "loopback";
  std::string link;                    // --link "delay=5ms,..." (netns only)
  int clients = 1;                     // client namespaces (netns)
  std::string family = "ipv4";         // --family ipv4 | ipv6: loopback ::1, netns a ULA prefix
  int calibration_ms = 50;             // host calibration per CPU and repetition; 0: none
  bool resume = false;                 // out_dir holds an interrupted run: finish it (resume.h)
  // Kernel-counted syscalls: "auto" (a round of their own for the suite's
  // groups that ask, "count_syscalls": true), "every" (every timed round too,
  // with the counters' cost in the CPU figures), "off".
  std::string count_syscalls = "auto";
};

struct MicroOptions {
  std::string out_dir;
  std::string bin_dir;
  std::string min_time;   // passed to --benchmark_min_time as given (1.7 wants "0.01")
  std::string filter;     // --benchmark_filter
  std::string cpus;       // empty: not pinned
};

// Runs the suite, writes OUT/run.json and OUT/gbench.json; returns the run
// document. Throws SuiteError for a bad suite, std::runtime_error for setup
// (bad CPU list, no loadgen) or a results folder it cannot write (the message
// names the path), Interrupted after a deferred SIGINT/SIGTERM once it has
// written the finished cases with "complete": false.
nlohmann::json run_suite(const RunOptions& opt, std::string* out_dir_used = nullptr);

// Throws std::invalid_argument (exit 2) when the topology options cannot
// work here: a bad value, netns without root, a bad hosts file, --link where
// links are real, or a link neither netem nor the delay line can emulate.
void check_topology(const RunOptions& opt);

// Runs BIN_DIR/iomodels_micro into OUT/micro.json. Returns false (and says
// why on stderr) when the executable is missing or fails.
bool run_micro(const MicroOptions& opt);

// results/<local date-time>-<name>: where a run writes when not told.
std::string default_out_dir(const std::string& name);

// The directory holding the running executable (/proc/self/exe).
std::string self_dir();

}  // namespace iomodels::harness
