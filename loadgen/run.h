// Running a load: limits, idle connections, worker threads, progress, and
// the merged result. Also the `merge` subcommand.
#pragma once
#include <string>
#include <vector>

#include "loadgen/options.h"
#include "loadgen/result.h"

namespace iomodels::loadgen {

// Throws UsageError when the setup is impossible (e.g. more connections than
// RLIMIT_NOFILE allows), std::system_error when a setup call fails.
RunResult run_load(const Options& opt);

// `loadgen merge a.json b.json ...`: returns the merged result JSON.
nlohmann::json merge_files(const std::vector<std::string>& paths);

// The whole command line (both forms); returns the exit status.
int loadgen_main(const std::vector<std::string>& args);

}  // namespace iomodels::loadgen
