#include "harness/proc_sample.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace iomodels::harness {
namespace {

void add_switches(const std::string& status_path, CpuSample& s) {
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
      s.voluntary_ctxt_switches += std::stoll(line.substr(line.find(':') + 1));
    else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
      s.involuntary_ctxt_switches += std::stoll(line.substr(line.find(':') + 1));
  }
}

}  // namespace

std::optional<CpuSample> sample_cpu(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat(base + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return std::nullopt;
  // The command name is in parentheses and may hold spaces: fields count from
  // after the last ')'. utime and stime are fields 14 and 15 and, read from the
  // process (not a task), include threads that already exited.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  CpuSample s;
  s.user_s = static_cast<double>(utime) / ticks;
  s.sys_s = static_cast<double>(stime) / ticks;
  if (DIR* d = ::opendir((base + "/task").c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') add_switches(base + "/task/" + e->d_name + "/status", s);
    ::closedir(d);
  }
  return s;
}

}  // namespace iomodels::harness
