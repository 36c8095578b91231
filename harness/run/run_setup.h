// What a run sets up before its first case: executables and CPU lists
// checked, the shared case environment, the topology, run.json's header.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/remote/topology.h"
#include "harness/run/resume.h"
#include "harness/run/run_case.h"
#include "harness/run/runner.h"

namespace iomodels::harness {

bool is_executable(const std::string& path);
std::string join_cpus(const std::vector<int>& cpus);
// The CPUs of `text` (a list like "0,2-3"), each one this process may use;
// else std::runtime_error naming `option`.
std::vector<int> checked_cpus(const std::string& text, const char* option);

// The suite's servers, narrowed to --servers (in the suite's order); throws
// SuiteError for a name not in the list.
std::vector<std::string> pick_servers(const std::vector<std::string>& suite_servers,
                                      const std::vector<std::string>& wanted);

// What every case of the run shares: CPUs (defaults: server on the first
// allowed CPU, loadgen on the second), the loadgen and what it can do,
// timeouts, syscall counting. Sets *server_cpus/*loadgen_cpus to the lists used.
CaseEnv run_case_env(const RunOptions& opt, const std::string& loadgen, std::string* server_cpus,
                     std::string* loadgen_cpus);

// Where the server and the clients run. A netns lab lives as long as the run
// (a fatal signal removes it); a hosts file is read; loopback needs nothing.
struct RunTopology {
  std::unique_ptr<NetnsLab> lab;
  Topology topo;
};
RunTopology open_topology(const RunOptions& opt, const std::string& bin_dir, CaseEnv& env,
                          const std::string& loadgen_cpus);

// run.json before its cases: schema, context (host, CPUs, topology, syscall
// counting, link), suite, run options; a resumed run keeps its first part's
// context and adds a "resumed" entry.
nlohmann::json run_header(const RunOptions& opt, const Suite& suite, const Topology& topo, const CaseEnv& env,
                          const std::string& server_cpus, const std::string& loadgen_cpus, const PriorRun& prior);

}  // namespace iomodels::harness
