// Reading a server process from /proc: its open fds and CPU time.
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/test_support.h"

namespace iomodels::test {

int open_fd_count(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

CommandOutput run_command(const std::string& command_line) {
  CommandOutput r;
  FILE* p = ::popen(command_line.c_str(), "r");
  if (p == nullptr) return r;
  char buf[512];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  int status = ::pclose(p);
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

double process_cpu_s(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // Fields after "(comm)", which may itself hold spaces: state is field 3,
  // utime and stime are fields 14 and 15.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

std::string prlimit_missing() {
  return ::access(kPrlimitPath, X_OK) == 0 ? "" : std::string(kPrlimitPath) + " is missing (util-linux)";
}

}  // namespace iomodels::test
