// What a run checks before it starts: executables and CPU lists.
#pragma once

#include <string>
#include <vector>

namespace iomodels::harness {

bool is_executable(const std::string& path);
std::string join_cpus(const std::vector<int>& cpus);
// The CPUs of `text` (a list like "0,2-3"), each one this process may use;
// else std::runtime_error naming `option`.
std::vector<int> checked_cpus(const std::string& text, const char* option);

}  // namespace iomodels::harness
