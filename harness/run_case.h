// One repetition of one case on one server: start it pinned, load it, sample
// its CPU over the measured window, stop it, collect everything.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/suite.h"

namespace iomodels::harness {

struct CaseEnv {
  std::string loadgen_path;
  std::string tmp_dir;   // scratch for the loadgen output and the stats file
  std::string log_dir;   // OUT/logs: servers' and loadgen's stderr, appended
  std::vector<int> server_cpus;
  std::vector<int> loadgen_cpus;
  int start_timeout_ms = 5000;
  int stop_timeout_ms = 2000;
};

struct CaseRun {
  bool ok = false;
  std::string reason;   // why not ok
  nlohmann::json rep;   // {"loadgen":..., "server_cpu":..., "server_stats":...}
};

CaseRun run_one(const CaseEnv& env, const std::string& server, const std::string& server_path,
                const CaseParams& p);

}  // namespace iomodels::harness
