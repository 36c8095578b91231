// What a repetition's numbers mean: status and flags from the loadgen's
// result, window deltas and cost per message from two server snapshots, CPU
// windows that notice exited threads, calibration outliers, and the process
// CPU clock against the tick figure over a busy window.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness/run/calibration.h"
#include "harness/run/case_record.h"
#include "harness/run/proc_sample.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

// A loadgen result over one second: `requests` answered, 0.2 s of loadgen CPU.
loadgen::RunResult loadgen(uint64_t requests, std::map<loadgen::ErrorKind, uint64_t> errors = {},
                           std::map<loadgen::LostCause, uint64_t> lost = {}) {
  loadgen::RunResult r;
  r.duration_s = 1.0;
  r.requests = requests;
  r.cpu_user_s = 0.2;
  for (const auto& [k, n] : errors) r.errors[k] = n;
  for (const auto& [k, n] : lost) r.lost[k] = n;
  return r;
}

using loadgen::ErrorKind;
using loadgen::LostCause;

TEST(CaseStatus, OkDegradedFailedByLossesAndErrors) {
  CaseParams p;
  EXPECT_EQ(judge_repetition(loadgen(10000), p).status, "ok");

  // A server that stops answering 1 of 16 connections: the loadgen times that
  // one out (1 error) and loses its outstanding request.
  RepVerdict one = judge_repetition(loadgen(10000, {{ErrorKind::kTimeout, 1}}, {{LostCause::kTimeout, 1}}), p);
  EXPECT_EQ(one.status, "degraded");
  EXPECT_NE(one.reason.find("1 requests lost"), std::string::npos) << one.reason;
  EXPECT_NE(one.reason.find("timeout 1"), std::string::npos) << one.reason;

  // Beyond the limit (1%): failed.
  RepVerdict many = judge_repetition(loadgen(1000, {{ErrorKind::kTimeout, 16}}, {{LostCause::kTimeout, 16}}), p);
  EXPECT_EQ(many.status, "failed");
  EXPECT_NE(many.reason.find("over the degraded limit"), std::string::npos) << many.reason;
  // The kinds by name, in the order the loadgen's JSON lists them.
  RepVerdict two = judge_repetition(loadgen(10000, {}, {{LostCause::kTimeout, 3}, {LostCause::kReset, 1}}), p);
  EXPECT_NE(two.reason.find("4 requests lost (reset 1, timeout 3)"), std::string::npos) << two.reason;

  // Errors without losses (a non-2xx reply) count too.
  EXPECT_EQ(judge_repetition(loadgen(10000, {{ErrorKind::kHttpStatus, 5}}), p).status, "degraded");
  // A wrong reply always fails, however rare; no request at all fails.
  EXPECT_EQ(judge_repetition(loadgen(10000, {{ErrorKind::kMismatch, 1}}), p).status, "failed");
  EXPECT_EQ(judge_repetition(loadgen(0), p).status, "failed");
}

TEST(CaseFlags, SaturatedWhenTheOpenLoopFallsBehind) {
  CaseParams p;
  p.rate = 10000;
  loadgen::RunResult lg = loadgen(8000);
  lg.target_rate = 10000;
  RepVerdict v = judge_repetition(lg, p);
  EXPECT_TRUE(v.flags["saturated"].get<bool>());
  EXPECT_NE(v.flags["saturated_reason"].get<std::string>().find("achieved 8000"), std::string::npos);

  lg.requests = 9950;  // within 1%
  EXPECT_FALSE(judge_repetition(lg, p).flags["saturated"].get<bool>());
  lg.schedule.deferred_sends = 50;     // 0.5% of 9950 held back: a hiccup
  EXPECT_FALSE(judge_repetition(lg, p).flags["saturated"].get<bool>());
  lg.schedule.deferred_sends = 200;    // 2% held back by their connections
  EXPECT_TRUE(judge_repetition(lg, p).flags["saturated"].get<bool>());
  lg.schedule.late_dispatches = 190;   // ...but the loadgen reached them late
  EXPECT_FALSE(judge_repetition(lg, p).flags["saturated"].get<bool>());
  lg.schedule.late_dispatches = 2000;  // 20% reached late: no schedule was kept
  lg.schedule.deferred_sends = 2000;
  EXPECT_TRUE(judge_repetition(lg, p).flags["saturated"].get<bool>());
  lg.schedule.deferred_sends = 0;
  lg.schedule.late_dispatches = 0;
  lg.unsent = 20;                      // 0.2% of the due sends never went
  EXPECT_TRUE(judge_repetition(lg, p).flags["saturated"].get<bool>());

  CaseParams closed;  // closed loop: never saturated, whatever the figures
  EXPECT_FALSE(judge_repetition(lg, closed).flags["saturated"].get<bool>());
}

TEST(CaseFlags, LoadgenBoundFromTheBusiestThread) {
  CaseParams p;
  loadgen::RunResult lg = loadgen(1000);
  EXPECT_FALSE(judge_repetition(lg, p).flags["loadgen_bound"].get<bool>());  // 0.2 s of 1 s
  lg.thread_cpu_max = 0.95;
  EXPECT_TRUE(judge_repetition(lg, p).flags["loadgen_bound"].get<bool>());
  lg.thread_cpu_max = 0;
  lg.cpu_user_s = 0.97;  // an older loadgen: the threads' average
  EXPECT_TRUE(judge_repetition(lg, p).flags["loadgen_bound"].get<bool>());
}

json snapshot(uint64_t messages, uint64_t recv, uint64_t send, uint64_t wait, uint64_t vcsw) {
  return {{"counters", {{"messages", messages}, {"wakeups", wait}, {"events", recv}, {"accepted", 16},
                        {"syscalls", {{"recv", recv}, {"send", send}, {"epoll_wait", wait}}}, {"extra", json::object()}}},
          {"rusage", {{"user_s", 1.0}, {"sys_s", 2.0}, {"voluntary_ctxt_switches", vcsw},
                      {"involuntary_ctxt_switches", 3}, {"max_rss_kb", 4000}}}};
}

TEST(CostPerMessage, WindowDeltasDividedByMessages) {
  json w = stats_delta(snapshot(500, 500, 500, 40, 10), snapshot(10500, 10500, 10500, 740, 210));
  ASSERT_TRUE(w.is_object());
  EXPECT_EQ(w["counters"]["accepted"], 0);  // the accept storm was before the window
  EXPECT_EQ(w["counters"]["syscalls"]["recv"], 10000);
  EXPECT_FALSE(w["rusage"].contains("max_rss_kb"));
  json c = cost_per_message(w, 80e6, 10000);
  EXPECT_DOUBLE_EQ(c["syscalls"]["recv"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(c["syscalls"]["epoll_wait"].get<double>(), 0.07);
  EXPECT_DOUBLE_EQ(c["syscalls_total"].get<double>(), 2.07);
  EXPECT_DOUBLE_EQ(c["wakeups"].get<double>(), 0.07);
  EXPECT_DOUBLE_EQ(c["context_switches"].get<double>(), 0.02);
  EXPECT_DOUBLE_EQ(c["cpu_us"].get<double>(), 8.0);
  EXPECT_TRUE(stats_delta(nullptr, snapshot(1, 1, 1, 1, 1)).is_null());
  EXPECT_TRUE(cost_per_message(w, 1, 0).is_null());
}

CpuSample sample(uint64_t t, uint64_t cpu, std::set<int> tids, int64_t lo, int64_t hi, long long vcsw) {
  CpuSample s;
  s.taken_ns = t;
  s.cpu_ns = cpu;
  s.tids = std::move(tids);
  s.exited_lo_ns = lo;
  s.exited_hi_ns = hi;
  s.voluntary_ctxt_switches = vcsw;
  return s;
}

TEST(CpuWindow, SwitchesAreNullWhenAThreadExitedNeverClamped) {
  CpuWindow same = cpu_window(sample(0, 0, {1, 2}, 0, 10, 100), sample(1e9, 5e8, {1, 2, 3}, 5, 20, 150));
  EXPECT_FALSE(same.threads_exited);
  EXPECT_EQ(server_cpu_json(same, 1000)["voluntary_ctxt_switches"], 50);
  EXPECT_DOUBLE_EQ(server_cpu_json(same, 1000)["us_per_request"].get<double>(), 500);

  // Thread 2 was alive at the start and is gone at the end.
  CpuWindow gone = cpu_window(sample(0, 0, {1, 2}, 0, 10, 100), sample(1e9, 5e8, {1}, 0, 10, 40));
  EXPECT_TRUE(gone.threads_exited);
  json j = server_cpu_json(gone, 1000);
  EXPECT_TRUE(j["voluntary_ctxt_switches"].is_null());
  EXPECT_TRUE(j["involuntary_ctxt_switches"].is_null());

  // A thread born and dead inside the window: the exited threads' CPU grew
  // by more than the reading's uncertainty (2 ms > 0.5 ms).
  CpuWindow brief = cpu_window(sample(0, 0, {1}, 0, 1000, 100), sample(1e9, 5e8, {1}, 2'001'000, 2'002'000, 90));
  EXPECT_TRUE(brief.threads_exited);
}

TEST(Calibration, MeasuresEachCpuAndFlagsOutlyingRounds) {
  json cal = calibrate_cpus({0, 0}, 5);  // a CPU listed twice is measured once
  ASSERT_EQ(cal.size(), 1u) << cal.dump();
  EXPECT_GT(cal["0"]["ns_per_op"].get<double>(), 0);
  EXPECT_GT(cal["0"]["ops"].get<long long>(), 0);

  json cases = json::array();
  for (int c = 0; c < 2; ++c) {
    json reps = json::array();
    for (int r = 0; r < 5; ++r) {
      double ns = 100 + r;  // a steady host...
      if (c == 1 && r == 3) ns = 190;  // ...but one repetition ran on a slow one
      reps.push_back({{"round", r}, {"calibration", {{"0", {{"ns_per_op", ns}}}}}});
    }
    cases.push_back({{"name", "x"}, {"repetitions", reps}});
  }
  flag_calibration_outliers(cases);
  EXPECT_EQ(cases[0]["flags"]["outlier_rounds"], json::array());
  EXPECT_EQ(cases[1]["flags"]["outlier_rounds"], json::array({3}));
  EXPECT_TRUE(cases[1]["repetitions"][3]["flags"]["calibration_outlier"].get<bool>());
}

// The CPU figure against work done, not against another reading of the same
// kernel clock: a child does one unit of work, then (after an idle half
// second) three, each on command. The second window must hold about three
// times the CPU of the first, whatever the wall time was. (Replaces a check
// of the clock against /proc ticks, which the kernel derives from that same
// clock, so it held for any window.)
TEST(CpuSample, WindowCpuFollowsTheWorkDoneNotTheWallTime) {
  int cmd[2], done[2];
  ASSERT_EQ(::pipe(cmd), 0);
  ASSERT_EQ(::pipe(done), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::alarm(60);  // never outlive a broken test
    char units;
    while (::read(cmd[0], &units, 1) == 1) {
      volatile uint64_t x = 0;
      for (uint64_t i = 0; i < uint64_t(units) * 40'000'000; ++i) x = x + 1;
      if (::write(done[1], "d", 1) != 1) ::_exit(1);
    }
    ::_exit(0);
  }
  auto run_units = [&](char units) {
    char c;
    return ::write(cmd[1], &units, 1) == 1 && ::read(done[0], &c, 1) == 1;
  };
  auto a = sample_cpu(child);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // idle: no CPU, much wall time
  ASSERT_TRUE(run_units(1));
  auto b = sample_cpu(child);
  ASSERT_TRUE(run_units(3));
  auto c = sample_cpu(child);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  for (int fd : {cmd[0], cmd[1], done[0], done[1]}) ::close(fd);
  ASSERT_TRUE(a && b && c);
  CpuWindow one = cpu_window(*a, *b), three = cpu_window(*b, *c);
  ASSERT_GT(one.cpu_ns, 0u);
  const double ratio = static_cast<double>(three.cpu_ns) / static_cast<double>(one.cpu_ns);
  EXPECT_GT(ratio, 1.3) << "one unit " << one.cpu_ns << " ns (wall " << one.span_ns << "), three " << three.cpu_ns;
  EXPECT_LT(ratio, 7.0) << "one unit " << one.cpu_ns << " ns (wall " << one.span_ns << "), three " << three.cpu_ns;
  EXPECT_LT(one.cpu_ns, one.span_ns) << "the idle half second is not CPU";
  EXPECT_FALSE(one.threads_exited);
  EXPECT_EQ(one.threads_start, 1u);
}

}  // namespace
}  // namespace iomodels::harness
