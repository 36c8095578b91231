// SIGINT/SIGTERM to `harness run`, `harness ab` and run_all.sh: no process of ours left, no worktree, a valid run.json marked
// incomplete with the finished cases, and `harness run --resume DIR` runs
// only what is missing, giving the cases an uninterrupted run gives.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include <nlohmann/json.hpp>

#include "test_faults_util.h"

namespace iomodels::test::harness {
namespace {

using nlohmann::json;

class HarnessInterrupt : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    for (const std::string& need : {kHarness, kLoadgen, kBin + "/epoll_lt", kBin + "/blocking_threads"})
      if (need.empty() || !file_exists(need)) GTEST_SKIP() << "not built: " << (need.empty() ? "a tool" : need);
    marker_ = "IOMODELS_TEST_MARKER=intr" + std::to_string(::getpid());
    // 2 servers x 2 rounds: 4 steps of ~1 s.
    write_file(dir_ + "/suite.json", R"({"name": "intr", "repetitions": 2, "servers": ["epoll_lt", "blocking_threads"],
        "defaults": {"duration": 0.6, "warmup": 0.1, "timeout": 2},
        "groups": [{"name": "echo", "connections": 4}]})");
  }
  // Starts CMD, waits until `ready` exists (the run is under way), sends SIG,
  // and expects the command to die of that signal, leaving no process.
  void interrupt(const std::string& cmd, const std::string& ready, int sig) {
    pid_t pid = spawn_marked(cmd, marker_, dir_ + "/interrupted.log");
    ASSERT_GT(pid, 0);
    const bool under_way = wait_for_file(ready, 60'000);
    ::usleep(200'000);
    ::kill(pid, sig);
    const int st = wait_exit_within(pid, 40'000);
    ASSERT_TRUE(under_way) << "never saw " << ready << "\n" << read_file(dir_ + "/interrupted.log");
    EXPECT_TRUE(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig)
        << describe_status(st) << "\n" << read_file(dir_ + "/interrupted.log");
    EXPECT_TRUE(wait_marked_gone(marker_, 3000).empty()) << "processes left behind";
  }
  static std::vector<std::string> names_and_reps(const json& run) {
    std::vector<std::string> out;
    for (const auto& c : run["cases"])
      out.push_back(c["name"].get<std::string>() + " x" + std::to_string(c["repetitions"].size()) + " " +
                    c["params"].dump());
    return out;
  }
  std::string harness_run(const std::string& out) const {
    return kHarness + " run --suite " + dir_ + "/suite.json --out " + out + " --bin-dir " + kBin +
           " --calibration-ms 0 --progress off";
  }
  std::string marker_;
};

TEST_F(HarnessInterrupt, RunInterruptedWritesIncompleteRunAndResumeFinishesIt) {
  // blocking_threads' log appears when the second step starts: one finished.
  interrupt(harness_run(dir_ + "/out"), dir_ + "/out/logs/blocking_threads.log", SIGINT);
  const std::string path = dir_ + "/out/run.json";
  EXPECT_EQ(validate_run_json(path), "");
  json cut = json::parse(read_file(path));
  EXPECT_EQ(cut["complete"], false);
  EXPECT_EQ(cut["progress"]["interrupted_by"], "SIGINT");
  const size_t done = cut["progress"]["steps_done"];
  EXPECT_GE(done, 1u);
  EXPECT_LT(done, 4u);
  size_t reps = 0;
  for (const auto& c : cut["cases"]) {
    reps += c["repetitions"].size();
    EXPECT_NE(c["status"], "failed") << "the step we cut short is no result: " << c["reason"];
  }
  EXPECT_EQ(reps, done);

  // Options belong to the run: giving one with --resume is refused.
  CmdResult bad = run_cmd(kHarness + " run --resume " + dir_ + "/out --servers epoll_lt", 30);
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--servers"), std::string::npos) << bad.output;

  CmdResult resumed = run_cmd("env " + marker_ + " " + kHarness + " run --resume " + dir_ + "/out --progress off", 120);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(validate_run_json(path), "");
  json full = json::parse(read_file(path));
  EXPECT_EQ(full["complete"], true);
  EXPECT_EQ(full["progress"]["steps_done"], 4);
  ASSERT_EQ(full["resumed"].size(), 1u);
  EXPECT_EQ(full["resumed"][0]["steps_done_before"], done);
  // Only the missing steps ran: the finished repetitions are the ones written before.
  for (size_t k = 0; k < cut["cases"].size(); ++k)
    for (size_t r = 0; r < cut["cases"][k]["repetitions"].size(); ++r)
      EXPECT_EQ(full["cases"][k]["repetitions"][r], cut["cases"][k]["repetitions"][r]) << k << "/" << r;
  CmdResult again = run_cmd(kHarness + " run --resume " + dir_ + "/out", 30);
  EXPECT_EQ(again.exit_code, 2) << "a complete run has nothing to resume: " << again.output;

  // The same cases, repetitions and parameters as a run never interrupted.
  CmdResult whole = run_cmd(harness_run(dir_ + "/whole"), 120);
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_EQ(names_and_reps(full), names_and_reps(json::parse(read_file(dir_ + "/whole/run.json"))));
  EXPECT_TRUE(wait_marked_gone(marker_, 3000).empty());
}

// harness ab interrupted in its rounds: both sides' run.json say what they
// finished; interrupted while building its base: the worktree it added is gone.
TEST_F(HarnessInterrupt, AbInterruptedInItsRoundsWritesBothSidesIncomplete) {
  interrupt(kHarness + " ab --suite " + dir_ + "/suite.json --repetitions 6 --base-bin " + kBin + " --head-bin " +
                kBin + " --out " + dir_ + "/ab --progress off",
            dir_ + "/ab/head/logs/blocking_threads.log", SIGTERM);
  for (const char* side : {"base", "head"}) {
    const std::string path = dir_ + "/ab/" + side + "/run.json";
    ASSERT_TRUE(file_exists(path)) << side;
    EXPECT_EQ(validate_run_json(path), "") << side;
    EXPECT_EQ(json::parse(read_file(path))["complete"], false) << side;
  }
}

TEST_F(HarnessInterrupt, AbInterruptedWhileBuildingItsBaseLeavesNoWorktree) {
  // A repository whose every revision takes a minute to configure.
  const std::string repo = dir_ + "/repo";
  write_file(dir_ + "/mkrepo.sh",
             "set -e\nmkdir " + repo + " && cd " + repo + "\ngit init -q .\n"
             "printf 'cmake_minimum_required(VERSION 3.16)\\nproject(slow NONE)\\n"
             "execute_process(COMMAND sleep 60)\\n' > CMakeLists.txt\n"
             "git add CMakeLists.txt && git -c user.name=t -c user.email=t@t commit -qm slow\n");
  ASSERT_EQ(run_cmd("sh " + dir_ + "/mkrepo.sh", 30).exit_code, 0);
  const std::string sha = run_cmd("git -C " + repo + " rev-parse HEAD", 10).output.substr(0, 12);
  const std::string src = dir_ + "/work/" + sha + "/src";
  interrupt(kHarness + " ab --suite " + dir_ + "/suite.json --base HEAD --source " + repo + " --work-dir " + dir_ +
                "/work --head-bin " + kBin + " --out " + dir_ + "/ab --progress off",
            src + "/CMakeLists.txt", SIGINT);
  EXPECT_FALSE(file_exists(src)) << "the worktree folder is left";
  CmdResult list = run_cmd("git -C " + repo + " worktree list --porcelain", 10);
  EXPECT_EQ(list.output.find(src), std::string::npos) << list.output;
}

// --topology netns: the lab's namespaces (iomns-<harness pid>-*) go with the run.
TEST_F(HarnessInterrupt, NetnsRunInterruptedRemovesItsNamespaces) {
  if (::geteuid() != 0) GTEST_SKIP() << "netns topology needs root";
  if (run_cmd("ip netns list", 10).exit_code != 0) GTEST_SKIP() << "`ip netns` unavailable (iproute2)";
  write_file(dir_ + "/long.json", R"({"name": "long", "repetitions": 1, "servers": ["epoll_lt"],
      "defaults": {"duration": 20, "warmup": 0.1}, "groups": [{"name": "echo", "connections": 2}]})");
  pid_t pid = spawn_marked(kHarness + " run --suite " + dir_ + "/long.json --out " + dir_ + "/out --topology netns " +
                               "--calibration-ms 0 --progress off",
                           marker_, dir_ + "/interrupted.log");
  ASSERT_GT(pid, 0);
  const std::string prefix = "iomns-" + std::to_string(pid) + "-";
  auto ours = [&] {
    return run_cmd("ls /run/netns 2>/dev/null | grep -c '^" + prefix + "'", 10).output;
  };
  const bool under_way = wait_for_file(dir_ + "/out/logs/epoll_lt.log", 60'000);
  const std::string made = ours();
  ::usleep(300'000);
  ::kill(pid, SIGTERM);
  const int st = wait_exit_within(pid, 40'000);
  ASSERT_TRUE(under_way) << read_file(dir_ + "/interrupted.log");
  EXPECT_NE(made, "0\n") << "no namespace seen while it ran";
  EXPECT_TRUE(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
      << describe_status(st) << "\n" << read_file(dir_ + "/interrupted.log");
  EXPECT_EQ(ours(), "0\n") << "namespaces left behind";
  EXPECT_TRUE(wait_marked_gone(marker_, 3000).empty()) << "processes left behind";
  EXPECT_EQ(validate_run_json(dir_ + "/out/run.json"), "");
  EXPECT_EQ(json::parse(read_file(dir_ + "/out/run.json"))["complete"], false);
}

// run_all.sh: a copy in a scratch root whose build folder holds the real
// harness, loadgen and servers (cmake shimmed to do nothing), running a
// longer smoke suite; SIGTERM to the script must stop the harness it runs.
TEST_F(HarnessInterrupt, RunAllShInterruptedLeavesNothingRunning) {
  const std::string root = dir_ + "/root";
  ASSERT_EQ(run_cmd("mkdir -p " + root + "/harness/suites " + dir_ + "/shim && cp " + kSrc + "/run_all.sh " + root +
                        "/ && cp " + dir_ + "/suite.json " + root + "/harness/suites/smoke.json",
                    10).exit_code,
            0);
  write_file(dir_ + "/shim/cmake", "#!/bin/sh\nexit 0\n", true);
  const std::string cmd = "env -u IOMODELS_RUN_ALL_INNER PATH=" + dir_ + "/shim:$PATH IOMODELS_NO_INSTALL=1 IOMODELS_BUILD_DIR=" + kBin + " " + root + "/run_all.sh smoke";
  // The harness writes run.json as it starts; its first server's log follows.
  pid_t pid = spawn_marked(cmd, marker_, dir_ + "/interrupted.log");
  ASSERT_GT(pid, 0);
  std::string run_dir;
  for (int i = 0; i < 1200 && run_dir.empty(); ++i) {
    CmdResult ls = run_cmd("ls -d " + root + "/results/*-smoke/logs/epoll_lt.log 2>/dev/null", 10);
    if (ls.exit_code == 0 && !ls.output.empty()) run_dir = ls.output.substr(0, ls.output.find("/logs/"));
    else ::usleep(50'000);
  }
  ::usleep(200'000);
  ::kill(pid, SIGTERM);
  const int st = wait_exit_within(pid, 40'000);
  ASSERT_FALSE(run_dir.empty()) << read_file(dir_ + "/interrupted.log");
  EXPECT_TRUE(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
      << describe_status(st) << "\n" << read_file(dir_ + "/interrupted.log");
  EXPECT_TRUE(wait_marked_gone(marker_, 3000).empty()) << "processes left behind\n" << read_file(dir_ + "/interrupted.log");
  EXPECT_EQ(validate_run_json(run_dir + "/run.json"), "");
  EXPECT_EQ(json::parse(read_file(run_dir + "/run.json"))["complete"], false);
}

}  // namespace
}  // namespace iomodels::test::harness
