#include "harness/run/runner.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <system_error>
#include <utility>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/socket_util.h"
#include "harness/cost/callgrind_table.h"
#include "harness/cost/kernel_syscalls.h"
#include "harness/cost/round_cost.h"
#include "harness/remote/run_remote.h"
#include "harness/remote/topology.h"
#include "harness/run/calibration.h"
#include "harness/run/case_record.h"
#include "harness/run/paired.h"
#include "harness/run/process.h"
#include "harness/run/progress.h"
#include "harness/run/results.h"
#include "harness/run/resume.h"
#include "harness/run/run_case.h"
#include "harness/run/run_setup.h"
#include "harness/run/run_slots.h"
#include "harness/run/server_list.h"

namespace iomodels::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double planned_s(const CaseParams& p) { return p.warmup_s + p.duration_s + 0.3; }

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

namespace {

// One run in progress: its run.json, its slots and how far the loop got.
// Every write leaves a complete run.json and gbench.json behind, so an
// interrupted or crashed run still has what it finished.
class SuiteRun {
 public:
  SuiteRun(json run, std::vector<Slot> slots, std::string out, size_t steps_done)
      : run_(std::move(run)), slots_(std::move(slots)), out_(std::move(out)), steps_done_(steps_done) {
    for (const auto& s : slots_) steps_total_ += s.path.empty() ? 0 : static_cast<size_t>(s.repetitions);
  }

  json& run() { return run_; }
  std::vector<Slot>& slots() { return slots_; }

  // complete: false until the last step: an interrupted or crashed run says
  // so, and `--resume` knows where to go on.
  void write_outputs() {
    run_["complete"] = steps_done_ == steps_total_;
    run_["progress"] = {{"steps_done", steps_done_}, {"steps_total", steps_total_}};
    if (interrupted()) run_["progress"]["interrupted_by"] = signal_name(interrupted());
    json cases = json::array();
    for (auto& s : slots_) {
      s.record["aggregate"] = aggregate_case(s.record["repetitions"]);
      if (s.record.contains("counted_rounds"))
        s.record["aggregate"]["kernel_syscalls_per_message"] = cost::aggregate_kernel_syscalls(s.record["counted_rounds"]);
      cases.push_back(s.record);
    }
    add_paired_ratios(cases);
    flag_calibration_outliers(cases);
    mark_pending(cases);
    run_["cases"] = cases;
    write_file_atomic(out_ + "/run.json", run_.dump(1) + "\n");
    write_file_atomic(out_ + "/gbench.json", to_gbench(run_).dump(2) + "\n");
  }

  // One step: a harness error is that step's failure; a step cut short by our
  // own interrupt is not a result, so the run is written and stops there.
  template <typename F>
  CaseRun run_step(F&& step) {
    CaseRun r;
    try {
      r = step();
    } catch (const std::exception& e) {
      r.status = "failed";
      r.reason = std::string("harness: ") + e.what();
    }
    if (interrupted()) {
      write_outputs();
      throw Interrupted();
    }
    return r;
  }

  void step_done() { ++steps_done_; }

 private:
  json run_;
  std::vector<Slot> slots_;
  std::string out_;
  size_t steps_done_ = 0;
  size_t steps_total_ = 0;
};

// Interleaved: rep → case → server, so slow drift of the machine lands on
// every server alike instead of on whichever ran last. Steps a resumed run
// finished before its interrupt are skipped. Returns the number of rounds.
int run_timed_rounds(SuiteRun& sr, const CaseEnv& env, const Topology& topo, int suite_repetitions,
                     size_t steps_done_before, bool show_progress, std::map<std::string, bool>& snapshots) {
  size_t total = 0;
  double expected = 0;
  int rounds = suite_repetitions;
  for (const auto& s : sr.slots())
    if (!s.path.empty()) {
      total += static_cast<size_t>(s.repetitions);
      expected += planned_s(*s.params) * s.repetitions;
      rounds = std::max(rounds, s.repetitions);
    }
  Progress progress(show_progress, total, expected);
  sr.write_outputs();  // from the start: a run.json that says "complete": false
  size_t i = 0;
  double done_expected = 0;
  for (int rep = 0; rep < rounds; ++rep) {
    for (auto& slot : sr.slots()) {
      if (slot.path.empty() || rep >= slot.repetitions) continue;
      if (i < steps_done_before) {  // resumed: finished before the interrupt
        ++i;
        done_expected += planned_s(*slot.params);
        continue;
      }
      const std::string name = slot.record["name"];
      progress.show(i++, name + " rep " + std::to_string(rep + 1), done_expected);
      CaseRun r = sr.run_step([&] {
        if (!snapshots.count(slot.path)) snapshots[slot.path] = help_mentions(slot.path, "SIGUSR1");
        return topo.remote()
                   ? run_one_remote(env, topo, slot.record["server"], *slot.params, rep, snapshots[slot.path],
                                    slot.server_args)
                   : run_one(env, slot.record["server"], slot.path, *slot.params, rep, snapshots[slot.path],
                             slot.server_args);
      });
      sr.step_done();
      done_expected += planned_s(*slot.params);
      const std::string failure = add_round(slot, std::move(r), rep);
      if (!failure.empty()) progress.note("harness: " + name + " " + failure);
    }
    sr.write_outputs();  // after each round: an interrupted suite still leaves results
  }
  throw_if_interrupted();  // between the last step and here (the children are gone)
  progress.done();
  return rounds;
}

// The counted rounds: after every timed one, kept apart (counted_rounds),
// so the counters' cost never reaches a CPU figure or a ratio.
void run_counted_rounds(SuiteRun& sr, const CaseEnv& env, int round, bool show_progress,
                        std::map<std::string, bool>& snapshots) {
  CaseEnv counted_env = env;
  counted_env.count_syscalls = true;
  counted_env.calibration_ms = 0;
  Progress progress(show_progress, 0, 0);
  for (auto& slot : sr.slots()) {
    if (slot.path.empty() || !slot.counted_round) continue;
    const std::string name = slot.record["name"];
    progress.note_inline(name + " counted round");
    CaseRun r = sr.run_step([&] {
      return run_one(counted_env, slot.record["server"], slot.path, *slot.params, round, snapshots[slot.path],
                     slot.server_args);
    });
    if (r.rep.is_null()) r.rep = {{"status", "failed"}, {"reason", r.reason}, {"round", round}};
    slot.record["counted_rounds"] = json::array({std::move(r.rep)});
  }
  progress.done();
}

// After the timed cases, as the micro-benchmarks: valgrind loads a CPU.
json run_callgrind_table(const Suite& suite, const std::vector<std::string>& servers, const std::string& bin_dir,
                         const CaseEnv& env, bool show_progress) {
  cost::CostProbe base;
  base.loadgen_path = env.loadgen_path;
  base.server_cpus = env.server_cpus;
  base.loadgen_cpus = env.loadgen_cpus;
  base.log_dir = env.log_dir + "/callgrind";
  Progress progress(show_progress, 0, 0);
  json table = cost::callgrind_table(suite.callgrind, servers, bin_dir, base,
                                     [&](size_t k, size_t n, const std::string& what) {
                                       progress.note_inline("callgrind " + std::to_string(k + 1) + "/" +
                                                            std::to_string(n) + "  " + what);
                                     });
  progress.done();
  if (!table.value("available", false))
    std::cerr << "harness run: callgrind table skipped: " << table.value("reason", "") << "\n";
  return table;
}

}  // namespace

json run_suite(const RunOptions& opt, std::string* out_dir_used) {
  Suite suite = load_suite(opt.suite_path);
  if (opt.repetitions > 0) suite.repetitions = opt.repetitions;
  const std::string bin_dir = opt.bin_dir.empty() ? self_dir() : opt.bin_dir;
  const std::string loadgen = opt.loadgen.empty() ? bin_dir + "/loadgen" : opt.loadgen;
  if (!is_executable(loadgen)) throw std::runtime_error("no loadgen executable at " + loadgen + " (build it, or pass --bin-dir)");
  const std::vector<std::string> servers = pick_servers(suite.servers, opt.servers);
  std::string server_cpus, loadgen_cpus;
  CaseEnv env = run_case_env(opt, loadgen, &server_cpus, &loadgen_cpus);

  const std::string out = opt.out_dir.empty() ? default_out_dir(suite.name) : opt.out_dir;
  if (out_dir_used) *out_dir_used = out;
  fs::create_directories(out + "/logs");
  env.log_dir = out + "/logs";
  env.tmp_dir = out + "/tmp";
  fs::create_directories(env.tmp_dir);
  // The list of the build that made this run, so plots of this folder keep its
  // colours and families after the build changes.
  fs::copy_file(server_list_path(), out + "/servers.json", fs::copy_options::overwrite_existing);
  // Remote topologies: the lab lives as long as the run; a signal removes it.
  const RunTopology topology = open_topology(opt, bin_dir, env, loadgen_cpus);
  const Topology& topo = topology.topo;

  // A resumed run keeps what its first part wrote (context, finished cases).
  PriorRun prior;
  if (opt.resume) prior = load_prior_run(out);
  std::vector<Slot> slots = plan_slots(suite, servers, opt, bin_dir);
  if (opt.resume) resume_slots(slots, prior.run["cases"]);
  SuiteRun sr(run_header(opt, suite, topo, env, server_cpus, loadgen_cpus, prior), std::move(slots), out,
              prior.steps_done);

  std::map<std::string, bool> snapshots;  // executable -> answers SIGUSR1 with a stats line
  const int rounds = run_timed_rounds(sr, env, topo, suite.repetitions, prior.steps_done, opt.progress, snapshots);
  if (!topo.remote()) run_counted_rounds(sr, env, rounds, opt.progress, snapshots);
  throw_if_interrupted();
  if (!suite.callgrind.is_null() && opt.callgrind)
    sr.run()["callgrind"] = run_callgrind_table(suite, servers, bin_dir, env, opt.progress);
  std::error_code ec;
  fs::remove_all(env.tmp_dir, ec);
  sr.write_outputs();
  if (suite.has_micro && opt.micro) {
    // After the cases, never between them: the micro-benchmarks load both CPUs.
    MicroOptions mo;
    mo.out_dir = out;
    mo.bin_dir = bin_dir;
    mo.min_time = suite.micro.value("min_time", "");
    mo.filter = suite.micro.value("filter", "");
    run_micro(mo);
    throw_if_interrupted();  // the micro-benchmarks were killed, not finished
  }
  return sr.run();
}

}  // namespace iomodels::harness
