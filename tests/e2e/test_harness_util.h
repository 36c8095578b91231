// Helpers for the harness end-to-end tests: run a command with a time limit,
// scratch folders, and a /proc scan for processes carrying a marker in their
// environment (how the tests prove that no child outlived the harness).
#pragma once
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_paths.inc"

namespace iomodels::test::harness {

// What the harness tests run, from test_paths.inc; empty when that target is
// not built (the tests that need it skip, saying so).
#ifdef IOMODELS_harness_PATH
inline const std::string kHarness = IOMODELS_harness_PATH;
#else
inline const std::string kHarness;
#endif
#ifdef IOMODELS_loadgen_PATH
inline const std::string kLoadgen = IOMODELS_loadgen_PATH;
#else
inline const std::string kLoadgen;
#endif
inline const std::string kBin = IOMODELS_BINARY_DIR;
inline const std::string kSrc = IOMODELS_SOURCE_DIR;

struct CmdResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `cmd` through sh, killed after `limit_s` by coreutils timeout so a
// broken harness fails the test instead of hanging CI.
inline CmdResult run_cmd(const std::string& cmd, int limit_s = 120) {
  CmdResult r;
  std::string full = "timeout -s KILL " + std::to_string(limit_s) + " " + cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

inline std::string make_temp_dir() {
  std::string tmpl = "/tmp/iomodels_harness_test.XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string();
}

inline void write_file(const std::string& path, const std::string& text, bool executable = false) {
  std::ofstream(path) << text;
  if (executable) ::chmod(path.c_str(), 0755);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A fixture with a scratch folder, removed unless the test failed (then it is
// kept for a look).
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    if (!HasFailure()) run_cmd("rm -rf " + dir_);
  }
  std::string dir_;
};

// PIDs whose environment holds NAME=VALUE (children inherit the harness's
// environment, so this finds every descendant, whatever its process group).
inline std::vector<int> pids_with_env(const std::string& name_value) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid()) continue;
    std::string env = read_file("/proc/" + std::to_string(pid) + "/environ");
    std::string needle = name_value;
    needle.push_back('\0');
    if (env.find(std::string(1, '\0') + needle) != std::string::npos || env.rfind(needle, 0) == 0)
      out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

// Waits up to `ms` for every marked process to go; returns those left.
inline std::vector<int> wait_marked_gone(const std::string& name_value, int ms) {
  std::vector<int> left;
  for (int waited = 0; waited <= ms; waited += 50) {
    left = pids_with_env(name_value);
    if (left.empty()) break;
    ::usleep(50'000);
  }
  return left;
}

// The schema check, with Debian's python3-jsonschema; "" when valid: run.json
// against run.schema.json, and each server stats object in it against
// server_stats.schema.json (tests/e2e/validate_schema.py --run).
inline std::string validate_run_json(const std::string& run_json) {
  std::string cmd = "/usr/bin/python3 " IOMODELS_SOURCE_DIR "/tests/e2e/validate_schema.py --run " + run_json;
  CmdResult r = run_cmd(cmd, 60);
  return r.exit_code == 0 ? "" : r.output;
}

}  // namespace iomodels::test::harness
