#include "servers/common/thread_budget.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>

namespace iomodels {
namespace {

// The number in a one-line file ("max" means no limit); false if unreadable.
bool read_count(const std::string& path, uint64_t& value) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word)) return false;
  if (word == "max") { value = UINT64_MAX; return true; }
  try { value = std::stoull(word); } catch (const std::exception&) { return false; }
  return true;
}

// Threads of this process: the "Threads:" line of /proc/self/status.
uint64_t own_threads() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoull(line.substr(8));
  return 1;
}

}  // namespace

std::vector<std::string> pids_cgroup_dirs(const std::string& proc_cgroup_text, const std::string& root) {
  std::istringstream in(proc_cgroup_text);
  std::string line;
  std::vector<std::string> dirs;
  while (std::getline(in, line)) {
    // hierarchy-id:controllers:path
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::string base;
    if (controllers.empty()) base = root;  // v2: one unified hierarchy
    else if (("," + controllers + ",").find(",pids,") != std::string::npos) base = root + "/pids";
    else continue;
    for (;;) {  // innermost first, up to the hierarchy's root
      dirs.push_back(base + (path == "/" ? "" : path));
      if (path == "/" || path.empty()) break;
      size_t slash = path.rfind('/');
      path = slash == 0 ? "/" : path.substr(0, slash);
    }
  }
  return dirs;
}

ThreadBudget thread_budget() {
  ThreadBudget b{SIZE_MAX, ""};
  const uint64_t mine = own_threads();
  rlimit nproc{};
  if (::getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY) {
    // Counts every task of our user; ours are the ones we know of.
    b.threads = nproc.rlim_cur > mine ? size_t(nproc.rlim_cur - mine) : 0;
    b.limited_by = "RLIMIT_NPROC";
  }
  std::ifstream cg("/proc/self/cgroup");
  std::stringstream text;
  text << cg.rdbuf();
  for (const std::string& dir : pids_cgroup_dirs(text.str(), "/sys/fs/cgroup")) {
    uint64_t max = 0, current = 0;
    if (!read_count(dir + "/pids.max", max) || max == UINT64_MAX) continue;
    if (!read_count(dir + "/pids.current", current)) continue;
    size_t left = max > current ? size_t(max - current) : 0;
    if (left < b.threads) b = {left, "pids.max (" + dir + ")"};
  }
  return b;
}

}  // namespace iomodels
