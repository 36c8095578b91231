// A server that dies or hangs in the middle of a suite: the case fails with why, the suite goes on.
// The "epoll_lt" of a temp bin dir is a script that execs the test fixture
// (tests/fixtures/hang_one_server.cpp) with a fault on cue: it dies after its
// 50th reply by a real SIGSEGV, abort() or exit(1) (one per repetition), or
// goes on serving after SIGTERM. The real blocking_threads runs beside it.
// Each fault must fail only its own case, named (signal and name, exit
// status, or stop timeout), the next server must start clean and be ok,
// run.json must be valid, and no process the harness started may be left.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "test_faults_util.h"

namespace iomodels::test::harness {
namespace {

#ifdef IOMODELS_fixture_hang_one_PATH
const std::string kFixture = IOMODELS_fixture_hang_one_PATH;
#else
const std::string kFixture;
#endif

class HarnessCrash : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    for (const std::string& need : {kHarness, kLoadgen, kFixture, kBin + "/blocking_threads"})
      if (need.empty() || !file_exists(need)) GTEST_SKIP() << "not built: " << (need.empty() ? "a tool" : need);
    bin_ = dir_ + "/bin";
    ASSERT_EQ(::mkdir(bin_.c_str(), 0755), 0);
    ASSERT_EQ(::symlink(kLoadgen.c_str(), (bin_ + "/loadgen").c_str()), 0);
    ASSERT_EQ(::symlink((kBin + "/blocking_threads").c_str(), (bin_ + "/blocking_threads").c_str()), 0);
    marker_ = "IOMODELS_TEST_MARKER=crash" + std::to_string(::getpid());
  }
  // The fake epoll_lt: --help answered by the fixture itself (the harness
  // reads it for features), every real start counted in DIR/starts.
  void fake_server(const std::string& fault_args) {
    write_file(bin_ + "/epoll_lt",
               "#!/bin/sh\ncase \"$*\" in *--help*) exec " + kFixture + " --help;; esac\n"
               "ulimit -c 0\n"  // no core files from the deliberate crashes
               "n=$(cat " + dir_ + "/starts 2>/dev/null || echo 0); echo $((n + 1)) > " + dir_ + "/starts\n" +
                   fault_args + "\nexec " + kFixture + " --deaf-connection 0 $fault \"$@\"\n",
               true);
  }
  nlohmann::json run_suite(int repetitions, const std::string& extra) {
    write_file(dir_ + "/suite.json", R"({"name": "crash", "repetitions": )" + std::to_string(repetitions) +
                                         R"(, "servers": ["epoll_lt", "blocking_threads"],
        "defaults": {"duration": 1, "warmup": 0.1, "timeout": 2},
        "groups": [{"name": "echo", "connections": 4}]})");
    CmdResult r = run_cmd("env " + marker_ + " " + kHarness + " run --suite " + dir_ + "/suite.json --out " + dir_ +
                              "/out --bin-dir " + bin_ + " --calibration-ms 0 --progress off " + extra,
                          120);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(validate_run_json(dir_ + "/out/run.json"), "");
    EXPECT_TRUE(wait_marked_gone(marker_, 3000).empty()) << "processes left behind";
    return nlohmann::json::parse(read_file(dir_ + "/out/run.json"));
  }
  std::string bin_, marker_;
};

TEST_F(HarnessCrash, ServerDyingMidCaseIsFailedWithItsSignalOrExitAndTheSuiteGoesOn) {
  fake_server("case $n in 0) fault='--die-after-messages 50 --die-how segv';;\n"
              "  1) fault='--die-after-messages 50 --die-how abort';;\n"
              "  *) fault='--die-after-messages 50 --die-how exit1';; esac");
  auto run = run_suite(3, "");
  ASSERT_EQ(run["cases"].size(), 2u);
  const auto& crashed = run["cases"][0];
  EXPECT_EQ(crashed["server"], "epoll_lt");
  EXPECT_EQ(crashed["status"], "failed");
  ASSERT_EQ(crashed["failures"].size(), 3u) << crashed.dump(1).substr(0, 3000);
  const std::string segv = crashed["failures"][0], abrt = crashed["failures"][1], exit1 = crashed["failures"][2];
  EXPECT_NE(segv.find("crashed during the case: killed by signal 11 (SIGSEGV"), std::string::npos) << segv;
  EXPECT_NE(abrt.find("crashed during the case: killed by signal 6 (SIGABRT"), std::string::npos) << abrt;
  EXPECT_NE(exit1.find("crashed during the case: exited with status 1"), std::string::npos) << exit1;
  // The next server of every round started clean and was measured.
  const auto& next = run["cases"][1];
  EXPECT_EQ(next["server"], "blocking_threads");
  EXPECT_NE(next["status"], "failed") << next["reason"];
  EXPECT_EQ(next["repetitions"].size(), 3u);
  EXPECT_TRUE(run.value("complete", false));
  EXPECT_EQ(read_file(dir_ + "/starts"), "3\n");  // one start per repetition, nothing retried
}

TEST_F(HarnessCrash, ServerIgnoringSigtermIsKilledAtTheStopDeadlineAndTheSuiteGoesOn) {
  fake_server("fault='--ignore-stop 1'");
  auto run = run_suite(1, "--stop-timeout-ms 500");
  ASSERT_EQ(run["cases"].size(), 2u);
  const auto& hung = run["cases"][0];
  EXPECT_EQ(hung["status"], "failed");
  const std::string reason = hung.value("reason", "");
  EXPECT_NE(reason.find("stop timeout: still running 500 ms after SIGTERM, killed with SIGKILL"), std::string::npos)
      << reason;
  EXPECT_NE(run["cases"][1]["status"], "failed") << run["cases"][1]["reason"];
}

}  // namespace
}  // namespace iomodels::test::harness
