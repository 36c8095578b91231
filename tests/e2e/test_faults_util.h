// Helpers for the fault tests: a command started in the background
// with a marker in its environment (so a /proc scan finds everything it
// started), a bounded wait for its exit, and a bounded wait for a file.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "test_harness_util.h"

namespace iomodels::test::harness {

// Starts `sh -c cmd` with MARKER in its environment; its own process group
// (so a signal from the test reaches only what the test means), stdout and
// stderr to `log`. Returns the pid, or -1.
inline pid_t spawn_marked(const std::string& cmd, const std::string& marker, const std::string& log) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setpgid(0, 0);
  ::putenv(const_cast<char*>(marker.c_str()));
  FILE* out = std::freopen(log.c_str(), "w", stdout);
  if (out) ::dup2(STDOUT_FILENO, STDERR_FILENO);
  ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
  ::_exit(127);
}

// Waits up to `ms` for pid; its raw wait status, or -1 (then it is SIGKILLed
// and reaped, so a broken command fails the test instead of hanging it).
inline int wait_exit_within(pid_t pid, int ms) {
  int st = 0;
  for (int waited = 0; waited <= ms; waited += 50) {
    if (::waitpid(pid, &st, WNOHANG) == pid) return st;
    ::usleep(50'000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &st, 0);
  return -1;
}

inline bool wait_for_file(const std::string& path, int ms) {
  for (int waited = 0; waited <= ms; waited += 50) {
    if (file_exists(path)) return true;
    ::usleep(50'000);
  }
  return false;
}

inline std::string describe_status(int st) {
  if (st == -1) return "did not exit in time (killed)";
  if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return "signal " + std::to_string(WTERMSIG(st));
  return "status " + std::to_string(st);
}

}  // namespace iomodels::test::harness
