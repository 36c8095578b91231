// Fixed-count cost probes of one server: user-space instructions per message
// (callgrind) and kernel-counted syscalls per message, each as the difference
// of two runs that differ only in their request count, so that start-up,
// connects, accepts and shutdown cancel and what is left is the cost of the
// extra messages alone.
//
// Used by `harness cost`, by `harness run` for the run's callgrind table, and
// by the CI gate's deterministic tier.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness::cost {

struct CostProbe {
  std::string server_path;
  std::string loadgen_path;
  std::string protocol = "echo";
  std::string size = "64";
  int connections = 1;
  uint64_t requests_low = 2000, requests_high = 4000;
  std::vector<std::string> server_args;  // after the common ones (a variant)
  // NAME=VALUE for the server alone (LD_PRELOAD of an injected cost), set
  // through env(1), which execs: the pid the counter attaches to is the server's.
  std::vector<std::string> server_env;
  std::vector<int> server_cpus, loadgen_cpus;  // empty: not pinned
  std::string log_dir;                   // servers', valgrind's and loadgen's stderr; "" = a temp dir
  int start_timeout_ms = 30000;          // valgrind starts slowly
};

// "" when valgrind can run here, else why not (and which package).
std::string valgrind_unavailable();

struct CallgrindResult {
  double instructions_per_message = 0;
  uint64_t ir_low = 0, ir_high = 0;        // callgrind's totals of the two runs
  uint64_t messages_low = 0, messages_high = 0;
  std::string error;                       // non-empty: no figure, and why
  nlohmann::json to_json() const;
};
// Runs the server under `valgrind --tool=callgrind` twice.
CallgrindResult callgrind_per_message(const CostProbe& p);

struct SyscallResult {
  std::map<std::string, double> per_message;  // kernel-counted, by name
  double total_per_message = 0;
  uint64_t messages_low = 0, messages_high = 0;
  std::string error;
  nlohmann::json to_json() const;
};
// Runs the server natively twice, counted by the syscall tracepoints from
// its `listening` line to the loadgen's exit.
SyscallResult kernel_syscalls_per_message(const CostProbe& p);

// The workload's short name in run.json and ab.json: "echo/c1/s64", "http/c16".
std::string probe_key(const CostProbe& p);

}  // namespace iomodels::harness::cost
