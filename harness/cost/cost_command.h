// `harness cost`: the fixed-count cost of one server (callgrind instructions
// per message, kernel-counted syscalls per message) as JSON iomodels.cost/1.
#pragma once
#include <string>
#include <vector>

namespace iomodels::harness::cost {
// Exit code: 0 done (an unavailable tool is said in the JSON), 2 bad option,
// 3 the environment cannot run it (no server or loadgen executable).
int cmd_cost(const std::vector<std::string>& args);
}  // namespace iomodels::harness::cost
